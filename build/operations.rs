//! The public `Client` methods (`operations.rs`) and the probe table of the retry test.

use std::fmt::Write as _;

use crate::probes::probes_source;
use crate::resources::SyncResource;
use crate::spec::Spec;
use crate::types::{generics_text, type_string};
use crate::BoxError;

pub(crate) struct ClientOperation {
    pub(crate) name: String,
    pub(crate) docs: Vec<syn::Attribute>,
    pub(crate) generics: syn::Generics,
    /// (argument name, type as text)
    pub(crate) params: Vec<(String, String)>,
    pub(crate) inputs: Vec<String>,
    pub(crate) output: String,
}

/// The `T` of `Result<ResponseValue<T>, Error<()>>`.
pub(crate) fn response_type(output: &syn::ReturnType) -> Option<syn::Type> {
    let syn::ReturnType::Type(_, ty) = output else {
        return None;
    };
    let first = |ty: &syn::Type| -> Option<syn::Type> {
        let syn::Type::Path(p) = ty else { return None };
        let syn::PathArguments::AngleBracketed(args) = &p.path.segments.last()?.arguments else {
            return None;
        };
        match args.args.first()? {
            syn::GenericArgument::Type(t) => Some(t.clone()),
            _ => None,
        }
    };
    first(&first(ty)?)
}

pub(crate) fn client_operations(file: &syn::File) -> Result<Vec<ClientOperation>, BoxError> {
    let mut out = Vec::new();
    for item in &file.items {
        let syn::Item::Impl(imp) = item else { continue };
        if imp.trait_.is_some() {
            continue;
        }
        let syn::Type::Path(p) = imp.self_ty.as_ref() else {
            continue;
        };
        if !p.path.is_ident("Client") {
            continue;
        }
        for item in &imp.items {
            let syn::ImplItem::Fn(f) = item else { continue };
            if f.sig.asyncness.is_none() {
                continue;
            }
            let name = f.sig.ident.to_string();
            let ty = response_type(&f.sig.output)
                .ok_or_else(|| format!("{name}: unexpected return type"))?;
            let mut params = Vec::new();
            let mut inputs = Vec::new();
            for input in &f.sig.inputs {
                if let syn::FnArg::Typed(pt) = input {
                    let syn::Pat::Ident(id) = pt.pat.as_ref() else {
                        return Err(format!("{name}: unexpected argument pattern").into());
                    };
                    let ty = type_string(&pt.ty);
                    inputs.push(format!("{}: {ty}", id.ident));
                    params.push((id.ident.to_string(), ty));
                }
            }
            out.push(ClientOperation {
                name,
                docs: f
                    .attrs
                    .iter()
                    .filter(|a| a.path().is_ident("doc"))
                    .cloned()
                    .collect(),
                generics: f.sig.generics.clone(),
                params,
                inputs,
                output: type_string(&ty),
            });
        }
    }
    Ok(out)
}

pub(crate) fn operations_source(
    operations: &[ClientOperation],
    resources: &[SyncResource],
    spec: &Spec,
) -> Result<String, BoxError> {
    let mut s = String::from("impl Client {\n");
    for op in operations {
        for doc in &op.docs {
            if let syn::Meta::NameValue(nv) = &doc.meta {
                if let syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(text),
                    ..
                }) = &nv.value
                {
                    let _ = writeln!(s, "#[doc = {:?}]", text.value());
                }
            }
        }
        let generics = generics_text(&op.generics);
        let call = match op.output.as_str() {
            "()" => "call_unit",
            "ByteStream" => "call_bytes",
            _ => "call_json",
        };
        let mut args: Vec<String> = op.params.iter().map(|(n, _)| n.clone()).collect();
        let mut prelude = body_conversions(op);
        if let Some(r) = resources.iter().find(|r| r.sync_id == op.name) {
            let (body, doc) = sync_operation(op, r)?;
            prelude.push_str(&body.0);
            args = body.1;
            let _ = writeln!(s, "#[doc = \"\"]\n#[doc = {doc:?}]");
        } else if let Some(r) = resources.iter().find(|r| r.list_id == op.name) {
            let (body, doc) = list_operation(op, r, spec)?;
            prelude.push_str(&body);
            let _ = writeln!(s, "#[doc = \"\"]\n#[doc = {doc:?}]");
        }
        let lifetime = if op.generics.lifetimes().next().is_some() {
            "&'a self"
        } else {
            "&self"
        };
        let _ = writeln!(
            s,
            "pub async fn {name}{generics}({lifetime}{sep}{inputs}) -> crate::Result<{output}> {{ {prelude} self.{call}(self.api.{name}({args})).await }}",
            name = op.name,
            sep = if op.inputs.is_empty() { "" } else { ", " },
            inputs = op.inputs.join(", "),
            output = op.output,
            args = args.join(", "),
        );
    }
    s.push_str("}\n");

    s.push_str(&probes_source(operations, resources, spec)?);
    Ok(s)
}

/// `let body: reqwest::Body = body.into();` for every argument whose type is a type parameter
/// bounded by `Into<reqwest::Body>` (progenitor's raw request bodies): progenitor's method is
/// then instantiated once, with `reqwest::Body`, whatever the caller passes, and the call it
/// returns is `Send` for the shared call path in `src/client/`.
fn body_conversions(op: &ClientOperation) -> String {
    let mut prelude = String::new();
    for param in op.generics.type_params() {
        let alone: syn::Generics = syn::parse_quote!(<#param>);
        let into_body = generics_text(&alone).replace(' ', "")
            == format!("<{}:Into<reqwest::Body>>", param.ident);
        if !into_body {
            continue;
        }
        for (name, ty) in &op.params {
            if param.ident == ty.as_str() {
                let _ = write!(prelude, "let {name}: reqwest::Body = {name}.into();");
            }
        }
    }
    prelude
}

/// A resource's sync operation: the body goes through `crate::sync::prepare_batch` (cap, every
/// per-record check, `schemaVersion` stamped), and its doc says so. Returns (prelude, call
/// arguments) and the added doc.
fn sync_operation(
    op: &ClientOperation,
    r: &SyncResource,
) -> Result<((String, Vec<String>), String), BoxError> {
    let (body, _) = op
        .params
        .iter()
        .find(|(_, ty)| ty.contains("SyncRequest<"))
        .ok_or_else(|| format!("{}: a sync operation takes a SyncRequest body", op.name))?;
    let prelude = format!(
        "let {body} = crate::sync::prepare_batch::<crate::sync::{marker}>(\"Client::{name}\", &{body}.items)?;",
        marker = r.marker,
        name = op.name,
    );
    let args = op
        .params
        .iter()
        .map(|(n, _)| {
            if n == body {
                format!("&{n}")
            } else {
                n.clone()
            }
        })
        .collect();
    let sibling = if r.response_items && r.marker == "VoiceRecordings" {
        "[`Client::sync_recordings`], which keeps every batch's per-item results".to_owned()
    } else {
        format!("[`Client::sync`] (`client.sync::<{}>(&records)`)", r.marker)
    };
    let doc = format!(
        "Sends one request of at most [`crate::sync::SYNC_BATCH_CAP`] (100) records with the \
         spec's facts applied: `schemaVersion` is stamped {version} where a record leaves it \
         unset, and every record is checked before anything is sent (an unknown enum value or a \
         timestamp that is not RFC 3339 is [`crate::Error::InvalidRecords`], naming each refused \
         record; more than 100 records is [`crate::Error::InvalidInput`]). For any number of \
         records, sent in batches, use {sibling}.",
        version = r.version,
    );
    Ok(((prelude, args), doc))
}

/// A resource's list operation: every argument the spec gives `x-wavekat-default-known-values`
/// is filled with the enum's known values when the caller passes `None`. Returns the prelude
/// and the added doc.
fn list_operation(
    op: &ClientOperation,
    r: &SyncResource,
    spec: &Spec,
) -> Result<(String, String), BoxError> {
    let mut prelude = String::new();
    let mut defaults = Vec::new();
    for arg in &r.list_args {
        let Some(e) = &arg.default_enum else { continue };
        let compact: String = arg.ty.chars().filter(|c| !c.is_whitespace()).collect();
        if !(compact.starts_with("Option<&") && compact.ends_with("str>")) {
            return Err(format!(
                "{}: {} has x-wavekat-default-known-values but is {}, not an optional string",
                op.name, arg.param, arg.ty
            )
            .into());
        }
        let p = &arg.param;
        let _ = write!(
            prelude,
            "let {p}_default; let {p} = match {p} {{ Some(v) => Some(v), None => {{ {p}_default = crate::wire::{e}::known_comma_separated(); Some({p}_default.as_str()) }} }};"
        );
        defaults.push(format!(
            "`{}` unset sends every value of [`crate::wire::{e}`] this version knows (`{}`)",
            arg.wire,
            spec.known_comma_separated(e)
        ));
    }
    let doc = if defaults.is_empty() {
        format!(
            "One page; the spec gives its query no default values. [`Client::list_all`] \
             (`client.list_all::<{}>(query)`) streams every page.",
            r.marker
        )
    } else {
        format!(
            "One page, with the spec's defaults applied: {}. [`Client::list_all`] \
             (`client.list_all::<{}>(query)`) streams every page, with the same defaults.",
            defaults.join("; "),
            r.marker
        )
    };
    Ok((prelude, doc))
}
