//! The public `Client` methods (`operations.rs`) and the probe table of the retry test.

use std::fmt::Write as _;

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

pub(crate) fn operations_source(operations: &[ClientOperation]) -> String {
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
        let args: Vec<&str> = op.params.iter().map(|(n, _)| n.as_str()).collect();
        let lifetime = if op.generics.lifetimes().next().is_some() {
            "&'a self"
        } else {
            "&self"
        };
        let _ = writeln!(
            s,
            "pub async fn {name}{generics}({lifetime}{sep}{inputs}) -> crate::Result<{output}> {{ self.{call}(self.api.{name}({args})).await }}",
            name = op.name,
            sep = if op.inputs.is_empty() { "" } else { ", " },
            inputs = op.inputs.join(", "),
            output = op.output,
            args = args.join(", "),
        );
    }
    s.push_str("}\n");

    // A call of every operation whose arguments can be made up without knowing the contract
    // (path and query strings, optional queries, byte bodies, empty sync batches), for the test
    // that pins retries to the spec's facts.
    let mut calls = String::new();
    let mut skipped = Vec::new();
    for op in operations {
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
                skipped.push(format!(
                    "({:?}, {:?})",
                    op.name,
                    format!("argument {name}: {ty}")
                ));
                String::new()
            };
            args.push(arg);
        }
        if args.iter().any(String::is_empty) {
            continue;
        }
        let _ = writeln!(
            calls,
            "({name:?}, |c| Box::pin(async move {{ c.{name}({args}).await.map(|_| ()) }})),",
            name = op.name,
            args = args.join(", ")
        );
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
    s
}
