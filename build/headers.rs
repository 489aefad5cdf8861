//! Leaving progenitor's `api-version` header out of the generated operations.

use crate::BoxError;

/// The header progenitor stamps on every request with the spec's `info.version`.
const API_VERSION: &str = "api-version";

/// Removes the `api-version` header from every generated operation: progenitor builds a
/// `HeaderMap` per call only to carry it, and the platform never sent or read it, so it stays
/// off the wire. Done here, at generation, it costs the operations no code and the requests no
/// work; a header map that also carries a spec parameter keeps that. Fails if the literal is
/// still in the generated client afterwards (progenitor changed its output): it must never
/// reach the wire silently.
pub(crate) fn drop_api_version_header(file: &mut syn::File) -> Result<(), BoxError> {
    for item in &mut file.items {
        let syn::Item::Impl(imp) = item else { continue };
        if imp.trait_.is_some() {
            continue;
        }
        for item in &mut imp.items {
            let syn::ImplItem::Fn(f) = item else { continue };
            if f.sig.asyncness.is_some() {
                drop_from_operation(&mut f.block);
            }
        }
    }
    let text = prettyplease::unparse(file);
    if text.contains(&format!("{API_VERSION:?}")) {
        return Err(format!(
            "progenitor's `{API_VERSION}` header is still in the generated client: \
             build/headers.rs no longer recognises how it is added"
        )
        .into());
    }
    Ok(())
}

fn drop_from_operation(block: &mut syn::Block) {
    // `header_map.append(HeaderName::from_static("api-version"), …);`
    block.stmts.retain(|stmt| {
        let syn::Stmt::Expr(syn::Expr::MethodCall(call), _) = stmt else {
            return true;
        };
        !(is_ident(&call.receiver, "header_map")
            && call.method == "append"
            && call.args.first().is_some_and(names_api_version))
    });
    // A header map left without any header goes, with the `.headers(header_map)` that sends it.
    let still_used = block.stmts.iter().any(|stmt| match stmt {
        syn::Stmt::Expr(syn::Expr::MethodCall(call), _) => is_ident(&call.receiver, "header_map"),
        _ => false,
    });
    if still_used {
        return;
    }
    block.stmts.retain(|stmt| !binds(stmt, "header_map"));
    for stmt in &mut block.stmts {
        if let syn::Stmt::Local(local) = stmt {
            if let Some(init) = &mut local.init {
                drop_headers_call(&mut init.expr);
            }
        }
    }
}

/// Removes `.headers(header_map)` from a builder chain (`self.client.get(url)….build()?`).
fn drop_headers_call(expr: &mut syn::Expr) {
    match expr {
        syn::Expr::Try(t) => drop_headers_call(&mut t.expr),
        syn::Expr::MethodCall(call) => {
            let sends_map = call.method == "headers"
                && call.args.len() == 1
                && call.args.first().is_some_and(|a| is_ident(a, "header_map"));
            if sends_map {
                let receiver = (*call.receiver).clone();
                *expr = receiver;
                drop_headers_call(expr);
            } else {
                drop_headers_call(&mut call.receiver);
            }
        }
        _ => {}
    }
}

/// `HeaderName::from_static("api-version")`.
fn names_api_version(expr: &syn::Expr) -> bool {
    let syn::Expr::Call(call) = expr else {
        return false;
    };
    matches!(
        call.args.first(),
        Some(syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. })) if s.value() == API_VERSION
    )
}

fn is_ident(expr: &syn::Expr, name: &str) -> bool {
    matches!(expr, syn::Expr::Path(p) if p.path.is_ident(name))
}

/// `let [mut] <name> = …;`
fn binds(stmt: &syn::Stmt, name: &str) -> bool {
    let syn::Stmt::Local(local) = stmt else {
        return false;
    };
    matches!(&local.pat, syn::Pat::Ident(id) if id.ident == name)
}
