//! The tables written to `OUT_DIR` straight from the spec: operation facts, wire enums, sync
//! endpoints and components.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde_json::Value;

use crate::resources::SyncResource;
use crate::spec::Spec;
use crate::BoxError;

impl Spec {
    pub(crate) fn components_source(&self) -> Result<String, BoxError> {
        let mut rows = String::new();
        let mut descriptions = String::new();
        let mut variants = String::new();
        let mut frame_variants = BTreeSet::new();
        for (name, schema) in &self.schemas {
            if schema.get("x-wavekat-transport").is_none() {
                continue;
            }
            if let Some(mapping) = schema
                .pointer("/discriminator/mapping")
                .and_then(Value::as_object)
            {
                for (tag, target) in mapping {
                    let target = target
                        .as_str()
                        .and_then(|t| t.strip_prefix("#/components/schemas/"))
                        .ok_or_else(|| {
                            format!("{name}: discriminator mapping {tag} is not a component")
                        })?;
                    frame_variants.insert(target.to_owned());
                    let _ = writeln!(variants, "({name:?}, {tag:?}, {target:?}),");
                }
            }
        }
        for (name, schema) in &self.schemas {
            let rust = if schema.get("x-wavekat-transport").is_some() {
                if frame_variants.contains(name) {
                    continue;
                }
                format!("crate::mobile::{name}")
            } else if let Some((record, page)) = self.collection_shape(name) {
                if let Some(text) = schema.get("description").and_then(Value::as_str) {
                    let _ = writeln!(descriptions, "({name:?}, {text:?}),");
                }
                format!("{}<{record}>", if page { "Page" } else { "SyncRequest" })
            } else {
                name.clone()
            };
            let _ = writeln!(rows, "({name:?}, <{rust} as JsonSchema>::json_schema),");
        }
        Ok(format!(
            "/// Every component of the spec with the Rust type that carries it (frame variants are\n\
             /// carried by their frame enum).\n\
             pub(crate) const COMPONENTS: &[(&str, SchemaFn)] = &[\n{rows}];\n\
             /// Derives one component's schema.\n\
             type SchemaFn = fn(&mut schemars::SchemaGenerator) -> schemars::Schema;\n\
             /// Mobile frame variants: (frame component, `type` tag, variant component).\n\
             pub(crate) const FRAME_VARIANTS: &[(&str, &str, &str)] = &[\n{variants}];\n\
             /// The spec's description of components a generic Rust type carries.\n\
             pub(crate) const DESCRIPTIONS: &[(&str, &str)] = &[\n{descriptions}];\n"
        ))
    }

    pub(crate) fn operation_facts_source(&self) -> String {
        let mut s = String::from(
            "/// Per-operation facts from the spec, one row per operation.\npub(crate) const OPERATIONS: &[OperationFacts] = &[\n",
        );
        for op in &self.operations {
            let _ = writeln!(
                s,
                "OperationFacts {{ id: {:?}, method: {:?}, path: {:?}, idempotent: {}, release_signed: {}, bearer: {}, content_type: {:?} }},",
                op.id,
                op.method,
                op.path,
                op.idempotent,
                op.release_signed,
                op.bearer,
                op.content_type
            );
        }
        s.push_str("];\n");
        s
    }

    pub(crate) fn enums_source(&self) -> String {
        let mut s = String::new();
        let mut table = String::from(
            "/// Parses a value and says whether it is a known variant rendering back the same.\n#[cfg(test)]\ntype ParsesKnown = fn(&str) -> bool;\n/// Every string enum of the spec's components with its values, in spec order: (schema, values, parser, known count).\n#[cfg(test)]\npub(crate) const SPEC_ENUMS: &[(&str, &[&str], ParsesKnown, usize)] = &[\n",
        );
        for (name, schema, values) in self.enums() {
            let doc = schema
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or("A wire enum of the platform contract.");
            let _ = writeln!(s, "wire_enum! {{");
            for line in doc.lines() {
                let _ = writeln!(s, "    #[doc = {:?}]", line);
            }
            let _ = writeln!(s, "    {name} ({doc:?}) {{");
            let mut used = BTreeSet::new();
            for value in &values {
                let mut variant = pascal_case(value);
                if variant == "Unknown" {
                    variant.push_str("Value");
                }
                while !used.insert(variant.clone()) {
                    variant.push('_');
                }
                let described = schema
                    .pointer("/x-wavekat-enum-descriptions")
                    .and_then(|d| d.get(value))
                    .and_then(Value::as_str);
                let doc = match described {
                    Some(text) => format!("{text} (`{value}`)"),
                    None => format!("`{value}` on the wire."),
                };
                let _ = writeln!(s, "        #[doc = {doc:?}]");
                let _ = writeln!(s, "        {variant} = {value:?},");
            }
            let _ = writeln!(s, "    }}\n}}");
            let _ = writeln!(
                table,
                "({name:?}, &{values:?}, |v| v.parse::<{name}>().is_ok_and(|e| e.is_known() && e.as_str() == v), {name}::KNOWN.len()),"
            );
        }
        table.push_str("];\n");
        s + &table
    }

    /// The markers of `crate::sync`, one per sync resource. The markers' dispatch sends a batch
    /// that `crate::sync::prepare_batch` already built through the raw progenitor call, and
    /// lists through the public operation, which applies the query defaults: each fact of a
    /// resource is applied in one generated place.
    pub(crate) fn sync_endpoints_source(&self, resources: &[SyncResource]) -> String {
        let mut s = String::new();
        for r in resources {
            let SyncResource {
                marker,
                resource_path,
                resource,
                sync_id,
                list_id,
                record,
                query,
                version,
                ..
            } = r;
            let items = if r.response_items {
                "r.items"
            } else {
                "Vec::new()"
            };
            let mut lets = String::new();
            let mut args = Vec::new();
            for arg in &r.list_args {
                let param = &arg.param;
                let _ = writeln!(lets, "let {param} = q.{param}.clone();");
                let compact: String = arg.ty.chars().filter(|c| !c.is_whitespace()).collect();
                args.push(if compact.starts_with("Option<&") {
                    format!("{param}.as_deref()")
                } else if compact.starts_with('&') {
                    format!("&{param}")
                } else {
                    param.clone()
                });
            }
            let next = if r.paginated {
                format!("Some({query} {{ before: Some(before), ..q.clone() }})")
            } else {
                "{ let _ = (q, before); None }".to_owned()
            };
            let doc = format!(
                "Marker for `{resource_path}` (sync with `{sync_id}`, list with `{list_id}`); schema version {version}."
            );
            let _ = write!(
                s,
                r#"
#[doc = {doc:?}]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct {marker};

impl SyncEndpoint for {marker} {{
    const RESOURCE: &'static str = {resource:?};
    const CURRENT_SCHEMA_VERSION: u32 = {version};
    type Record = {record};
    type Query = {query};

    fn source_id(record: &Self::Record) -> &str {{
        &record.source_id
    }}
}}

impl sealed::Dispatch for {marker} {{
    const LIST_OPERATION: &'static str = {list_id:?};

    // `#[inline]` (here and on `list`): compiled where a program syncs or lists (they are only
    // reached through generic code), not in this crate for every program.
    #[inline]
    fn sync<'a>(client: &'a Client, batch: &'a SyncRequest<{record}>) -> BoxFuture<'a, Result<SyncOutcome>> where Self: SyncEndpoint {{
        Box::pin(async move {{
            // `batch` comes from `prepare_batch`: the raw call, so nothing is applied twice.
            let r = client.call_json(client.api.{sync_id}(batch)).await?;
            Ok(SyncOutcome {{ accepted: r.accepted, skipped: r.skipped, items: {items} }})
        }})
    }}

    #[allow(clippy::clone_on_copy)]
    #[inline]
    fn list<'a>(client: &'a Client, q: &'a {query}) -> BoxFuture<'a, Result<Page<{record}>>> where Self: SyncEndpoint {{
        Box::pin(async move {{
            {lets}
            client.{list_id}({args}).await
        }})
    }}

    fn next_query(q: &{query}, before: String) -> Option<{query}> where Self: SyncEndpoint {{
        {next}
    }}
}}
"#,
                args = args.join(", "),
            );
        }
        s
    }
}

fn pascal_case(value: &str) -> String {
    let mut out = String::new();
    for part in value
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|p| !p.is_empty())
    {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(chars);
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'V');
    }
    out
}
