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
        let checks = field_checks(structs, spec, st, "self", "", 0);
        let all = if checks.is_empty() {
            "Vec::new()".to_owned()
        } else {
            format!("let mut out = Vec::new(); {checks} out")
        };
        let _ = writeln!(
            s,
            "impl WireValidate for {name} {{\n\
                 fn unknown_value(&self) -> Option<UnknownWireValue> {{ {body} }}\n\
                 fn invalid_fields(&self) -> Vec<InvalidField> {{ {all} }}\n\
             }}",
            name = st.name
        );
    }
    s
}

/// Statements pushing onto `out` every field of `st` (reached as `this`) that the platform
/// would refuse: an unknown enum value (also inside an array of enums) and a `format:
/// date-time` string that is not RFC 3339, then the same for the objects it holds (directly or
/// in an array), their fields named `flowSteps[].start`.
fn field_checks(
    structs: &[StructInfo],
    spec: &Spec,
    st: &StructInfo,
    this: &str,
    prefix: &str,
    depth: usize,
) -> String {
    let props = spec
        .schema(&st.name)
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object);
    let mut out = String::new();
    for f in &st.fields {
        let Some(prop) = props.and_then(|p| p.get(&f.wire)) else {
            continue;
        };
        let optional = option_inner(&f.ty).is_some();
        let access = format!("{this}.{}", f.ident);
        let wire = format!("{prefix}{}", f.wire);
        let each = if optional {
            format!("{access}.iter().flatten()")
        } else {
            format!("{access}.iter()")
        };
        let one = |call: &str| {
            if optional {
                format!("if let Some(v) = &{access} {{ {call}(&mut out, {wire:?}, v); }}")
            } else {
                format!("{call}(&mut out, {wire:?}, &{access});")
            }
        };
        let target = ref_name(prop);
        let items = (prop.get("type").and_then(Value::as_str) == Some("array"))
            .then(|| prop.get("items").and_then(ref_name))
            .flatten();
        let nested = |name: &Option<String>| {
            name.as_ref()
                .and_then(|n| structs.iter().find(|s| s.name == *n))
                .filter(|_| depth < 4)
        };
        if target.as_ref().is_some_and(|r| spec.is_enum(r)) {
            out.push_str(&one("unknown_field"));
        } else if items.as_ref().is_some_and(|r| spec.is_enum(r)) {
            let _ = write!(
                out,
                "for v in {each} {{ unknown_field(&mut out, {wire:?}, v); }}"
            );
        } else if f.date_time {
            out.push_str(&one("timestamp_field"));
        } else if let Some(inner) = nested(&items) {
            let var = format!("item{depth}");
            let body = field_checks(structs, spec, inner, &var, &format!("{wire}[]."), depth + 1);
            if !body.is_empty() {
                let _ = write!(out, "for {var} in {each} {{ {body} }}");
            }
        } else if let Some(inner) = nested(&target) {
            let var = format!("object{depth}");
            let body = field_checks(structs, spec, inner, &var, &format!("{wire}."), depth + 1);
            if !body.is_empty() {
                if optional {
                    let _ = write!(out, "if let Some({var}) = &{access} {{ {body} }}");
                } else {
                    let _ = write!(out, "{{ let {var} = &{access}; {body} }}");
                }
            }
        }
    }
    out
}
