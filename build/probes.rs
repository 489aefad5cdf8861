//! The tables the operation tests iterate (`#[cfg(test)]` in `operations.rs`), written from the
//! spec so a new operation or resource is covered without touching a test:
//!
//! - `PROBE_CALLS`: a call of every operation whose arguments can be made up without knowing
//!   the contract (path and query strings, optional queries, byte bodies, empty sync batches),
//!   for the test that pins retries to the spec's facts; `PROBE_SKIPPED` says why the others
//!   are left out.
//! - `SYNC_PROBES`: per sync resource, its schema version, a sample record built from the
//!   record's required properties, the fields the per-record checks refuse with a value they
//!   refuse, and a call of the public sync operation with any records.
//! - `LIST_PROBES`: per resource list operation, a call with every optional argument `None` and
//!   the query values the spec's defaults must put on the wire.

use std::fmt::Write as _;

use crate::operations::ClientOperation;
use crate::resources::SyncResource;
use crate::spec::Spec;
use crate::BoxError;

/// Arguments for a call of `op` made up without knowing the contract, or why there are none.
fn made_up_args(op: &ClientOperation) -> Result<Vec<String>, String> {
    let mut args = Vec::new();
    for (name, ty) in &op.params {
        let compact: String = ty.chars().filter(|c| !c.is_whitespace()).collect();
        let arg = if compact.starts_with("Option<") {
            "None".to_owned()
        } else if compact.starts_with('&') && compact.ends_with("str") {
            "\"probe\"".to_owned()
        } else if compact.contains("SyncRequest<") {
            "&crate::wire::SyncRequest::new(Vec::new())".to_owned()
        } else if op.generics.type_params().any(|t| t.ident == compact) {
            "Vec::<u8>::new()".to_owned()
        } else {
            return Err(format!("argument {name}: {ty}"));
        };
        args.push(arg);
    }
    Ok(args)
}

pub(crate) fn probes_source(
    operations: &[ClientOperation],
    resources: &[SyncResource],
    spec: &Spec,
) -> Result<String, BoxError> {
    let mut s = String::new();
    let mut calls = String::new();
    let mut skipped = Vec::new();
    for op in operations {
        match made_up_args(op) {
            Ok(args) => {
                let _ = writeln!(
                    calls,
                    "({name:?}, |c| Box::pin(async move {{ c.{name}({args}).await.map(|_| ()) }})),",
                    name = op.name,
                    args = args.join(", ")
                );
            }
            Err(why) => skipped.push(format!("({:?}, {why:?})", op.name)),
        }
    }
    let _ = write!(
        s,
        "/// Every operation callable with made-up arguments, for the retry test.\n\
         #[cfg(test)]\n\
         pub(crate) const PROBE_CALLS: &[(&str, ProbeCall)] = &[\n{calls}];\n\
         /// Calls one operation, dropping its value.\n\
         #[cfg(test)]\n\
         type ProbeCall = for<'c> fn(&'c Client) -> crate::client::BoxFuture<'c, crate::Result<()>>;\n\
         /// Operations the probe cannot call, and why.\n\
         #[cfg(test)]\n\
         pub(crate) const PROBE_SKIPPED: &[(&str, &str)] = &[{}];\n",
        skipped.join(", ")
    );

    let mut syncs = String::new();
    let mut lists = String::new();
    for r in resources {
        let record_schema = spec
            .schema(&r.record)
            .ok_or_else(|| format!("{}: no schema {}", r.sync_id, r.record))?;
        let sample = spec.sample(record_schema, 0);
        let refusable: Vec<String> = spec
            .refusable(&r.record)
            .iter()
            .map(|(field, bad)| format!("({field:?}, {:?})", bad.to_string()))
            .collect();
        let _ = writeln!(
            syncs,
            "SyncProbe {{ operation: {sync:?}, marker: {marker:?}, schema_version: {version}, sample: {sample:?}, refusable: &[{refusable}], \
             send: |c, records| Box::pin(async move {{ \
                 let items = records.into_iter().map(serde_json::from_value::<types::{record}>).collect::<Result<Vec<_>, _>>().map_err(|e| crate::Error::InvalidInput(e.to_string()))?; \
                 let body = crate::wire::SyncRequest::new(items); \
                 c.{sync}(&body).await.map(|_| ()) }}) }},",
            sync = r.sync_id,
            marker = r.marker,
            version = r.version,
            sample = sample.to_string(),
            refusable = refusable.join(", "),
            record = r.record,
        );
        let list = operations
            .iter()
            .find(|o| o.name == r.list_id)
            .ok_or_else(|| format!("{}: progenitor generated no method", r.list_id))?;
        let args = made_up_args(list)
            .map_err(|why| format!("{}: the list probe cannot call it ({why})", r.list_id))?;
        let defaults: Vec<String> = r
            .list_args
            .iter()
            .filter_map(|a| {
                let e = a.default_enum.as_ref()?;
                Some(format!(
                    "({:?}, crate::wire::{e}::known_comma_separated)",
                    a.wire
                ))
            })
            .collect();
        let _ = writeln!(
            lists,
            "ListProbe {{ operation: {name:?}, defaults: &[{defaults}], call: |c| Box::pin(async move {{ c.{name}({args}).await.map(|_| ()) }}) }},",
            name = r.list_id,
            defaults = defaults.join(", "),
            args = args.join(", "),
        );
    }
    let _ = write!(
        s,
        "/// A resource's public sync operation, for the test that every spec fact is applied on it.\n\
         #[cfg(test)]\n\
         pub(crate) struct SyncProbe {{\n\
             /// The operation's method name.\n\
             pub(crate) operation: &'static str,\n\
             /// The resource's marker in `crate::sync`.\n\
             pub(crate) marker: &'static str,\n\
             /// The sync operation's `x-wavekat-schema-version` (default 1).\n\
             pub(crate) schema_version: u32,\n\
             /// A record from the spec's required properties, as JSON, with `schemaVersion` unset.\n\
             pub(crate) sample: &'static str,\n\
             /// Top-level fields the per-record checks refuse, each with a refused value (JSON).\n\
             pub(crate) refusable: &'static [(&'static str, &'static str)],\n\
             /// Sends the records (JSON, read as the record type) through the public operation.\n\
             pub(crate) send: for<'c> fn(&'c Client, Vec<serde_json::Value>) -> crate::client::BoxFuture<'c, crate::Result<()>>,\n\
         }}\n\
         /// Every sync resource's public sync operation.\n\
         #[cfg(test)]\n\
         pub(crate) const SYNC_PROBES: &[SyncProbe] = &[\n{syncs}];\n\
         /// A resource's public list operation, called with every optional argument `None`.\n\
         #[cfg(test)]\n\
         pub(crate) struct ListProbe {{\n\
             /// The operation's method name.\n\
             pub(crate) operation: &'static str,\n\
             /// Query parameters the spec's `x-wavekat-default-known-values` fills, with the value.\n\
             pub(crate) defaults: &'static [(&'static str, KnownValues)],\n\
             /// The call.\n\
             pub(crate) call: ProbeCall,\n\
         }}\n\
         /// The value a default puts on the wire (an enum's `known_comma_separated`).\n\
         #[cfg(test)]\n\
         type KnownValues = fn() -> String;\n\
         /// Every sync resource's public list operation.\n\
         #[cfg(test)]\n\
         pub(crate) const LIST_PROBES: &[ListProbe] = &[\n{lists}];\n"
    );
    Ok(s)
}
