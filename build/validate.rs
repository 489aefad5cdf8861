//! The per-struct `WireValidate` tables (`wire_validate.rs`).

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde_json::Value;

use crate::spec::{ref_name, Spec};
use crate::types::{option_inner, StructInfo};

pub(crate) fn wire_validate_source(structs: &[StructInfo], spec: &Spec) -> String {
    let mut s = String::new();
    // Records carrying the sync envelope at their top level: both envelope keys among their
    // properties (the envelope schema itself excluded).
    let enveloped: Vec<&str> = structs
        .iter()
        .filter(|st| {
            let wire: BTreeSet<&str> = st.fields.iter().map(|f| f.wire.as_str()).collect();
            let idents: BTreeSet<&str> = st.fields.iter().map(|f| f.ident.as_str()).collect();
            wire.contains("schemaVersion")
                && wire.contains("extras")
                && idents.contains("schema_version")
                && idents.contains("extras")
                && st.fields.len() > 2
        })
        .map(|st| st.name.as_str())
        .collect();
    if !enveloped.is_empty() {
        let _ = writeln!(s, "has_sync_envelope!({});", enveloped.join(", "));
    }
    for st in structs {
        let props = spec
            .schema(&st.name)
            .and_then(|s| s.get("properties"))
            .and_then(Value::as_object);
        let mut checks = Vec::new();
        for f in &st.fields {
            let Some(prop) = props.and_then(|p| p.get(&f.wire)) else {
                continue;
            };
            let optional = option_inner(&f.ty).is_some();
            if ref_name(prop).is_some_and(|r| spec.is_enum(&r)) {
                checks.push(if optional {
                    format!(
                        "self.{}.as_ref().and_then(|v| unknown({:?}, v))",
                        f.ident, f.wire
                    )
                } else {
                    format!("unknown({:?}, &self.{})", f.wire, f.ident)
                });
            } else if prop.get("type").and_then(Value::as_str) == Some("array")
                && prop
                    .get("items")
                    .and_then(ref_name)
                    .is_some_and(|r| spec.is_enum(&r))
            {
                let iter = if optional {
                    format!("self.{}.iter().flatten()", f.ident)
                } else {
                    format!("self.{}.iter()", f.ident)
                };
                checks.push(format!("{iter}.find_map(|v| unknown({:?}, v))", f.wire));
            }
        }
        let body = if checks.is_empty() {
            "None".to_owned()
        } else {
            checks
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    if i == 0 {
                        c.clone()
                    } else {
                        format!(".or_else(|| {c})")
                    }
                })
                .collect::<String>()
        };
        let _ = writeln!(
            s,
            "impl WireValidate for {name} {{ fn unknown_value(&self) -> Option<UnknownWireValue> {{ {body} }} }}",
            name = st.name
        );
    }
    s
}
