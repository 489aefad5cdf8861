//! Shaping progenitor's types: `#[non_exhaustive]`, constructors and `with_` setters, tokens and
//! secrets (redacted `Debug`).

use std::fmt::Write as _;

use serde_json::Value;

use crate::spec::{is_date_time, Spec};
use crate::BoxError;

/// The extension marking a string property as a bearer token: its Rust type is `crate::Token`.
/// A vendor extension, not a `format`: the wire value is an ordinary string, only its Rust
/// representation differs.
pub(crate) const TOKEN_MARK: &str = "x-wavekat-token";
/// The extension marking any other secret property (a one-time code, the sign-in `state`): the
/// type keeps its wire form, but its `Debug` prints `<redacted>` in the field's place.
pub(crate) const SECRET_MARK: &str = "x-wavekat-secret";

pub(crate) struct FieldInfo {
    pub(crate) ident: String,
    pub(crate) wire: String,
    pub(crate) ty: syn::Type,
    pub(crate) optional: bool,
    /// The spec says `format: date-time` (an RFC 3339 string).
    pub(crate) date_time: bool,
}

pub(crate) struct StructInfo {
    pub(crate) name: String,
    pub(crate) fields: Vec<FieldInfo>,
}

pub(crate) fn type_string(ty: &syn::Type) -> String {
    let file: syn::File = syn::parse_quote!(type T = #ty;);
    prettyplease::unparse(&file)
        .trim()
        .trim_start_matches("type T =")
        .trim_end_matches(';')
        .trim()
        .to_owned()
}

/// `<'a, B: Into<reqwest::Body>>` as text.
pub(crate) fn generics_text(generics: &syn::Generics) -> String {
    if generics.params.is_empty() {
        return String::new();
    }
    let file: syn::File = syn::parse_quote!(struct S #generics;);
    prettyplease::unparse(&file)
        .trim()
        .trim_start_matches("struct S")
        .trim_end_matches(';')
        .trim()
        .to_owned()
}

pub(crate) fn serde_rename(attrs: &[syn::Attribute]) -> Option<String> {
    let mut found = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                let lit: syn::LitStr = meta.value()?.parse()?;
                found = Some(lit.value());
            } else if meta.input.peek(syn::Token![=]) {
                let _: syn::Expr = meta.value()?.parse()?;
            }
            Ok(())
        });
    }
    found
}

pub(crate) fn has_serde_default(attrs: &[syn::Attribute]) -> bool {
    let mut found = false;
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("default") {
                found = true;
            }
            if meta.input.peek(syn::Token![=]) {
                let _: syn::Expr = meta.value()?.parse()?;
            }
            Ok(())
        });
    }
    found
}

/// The `T` of `Option<T>`.
pub(crate) fn option_inner(ty: &syn::Type) -> Option<&syn::Type> {
    let syn::Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != "Option" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first()? {
        syn::GenericArgument::Type(t) => Some(t),
        _ => None,
    }
}

/// Makes every generated struct `#[non_exhaustive]`, adds its constructor and setters, and turns
/// token-format strings into `crate::Token`. Returns what it saw, for the other tables.
pub(crate) fn shape_types(file: &mut syn::File, spec: &Spec) -> Result<Vec<StructInfo>, BoxError> {
    let types = file
        .items
        .iter_mut()
        .find_map(|item| match item {
            syn::Item::Mod(m) if m.ident == "types" => Some(m),
            _ => None,
        })
        .ok_or("progenitor generated no `types` module")?;
    let Some((_, items)) = types.content.as_mut() else {
        return Err("the `types` module is empty".into());
    };
    let schemars = std::env::var_os("CARGO_FEATURE_SCHEMARS").is_some();
    let mut infos = Vec::new();
    let mut impls = Vec::new();
    for item in items.iter_mut() {
        let syn::Item::Struct(st) = item else {
            continue;
        };
        let syn::Fields::Named(named) = &mut st.fields else {
            continue;
        };
        let name = st.ident.to_string();
        let schema = spec.schema(&name);
        let props = schema
            .and_then(|s| s.get("properties"))
            .and_then(Value::as_object);
        let mut fields = Vec::new();
        let mut secrets = Vec::new();
        for field in named.named.iter_mut() {
            let ident = field
                .ident
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            let wire = serde_rename(&field.attrs).unwrap_or_else(|| ident.clone());
            let token = props
                .and_then(|p| p.get(&wire))
                .and_then(|p| p.get(TOKEN_MARK))
                == Some(&Value::Bool(true));
            if token {
                field.ty = match type_string(&field.ty).as_str() {
                    "::std::string::String" => syn::parse_str("crate::Token")?,
                    "::std::option::Option<::std::string::String>" => {
                        syn::parse_str("::std::option::Option<crate::Token>")?
                    }
                    other => {
                        return Err(format!(
                            "{name}.{wire}: {TOKEN_MARK} marks a string, not {other}"
                        )
                        .into())
                    }
                };
            }
            if props
                .and_then(|p| p.get(&wire))
                .and_then(|p| p.get(SECRET_MARK))
                == Some(&Value::Bool(true))
            {
                secrets.push(wire.clone());
            }
            // `format: date-time` is stripped from progenitor's copy (the field stays a
            // `String`); the schemars schema states it again, as the spec does.
            let date_time = props.and_then(|p| p.get(&wire)).is_some_and(is_date_time);
            if date_time && schemars {
                field
                    .attrs
                    .push(syn::parse_quote!(#[schemars(extend("format" = "date-time"))]));
            }
            let optional = option_inner(&field.ty).is_some() || has_serde_default(&field.attrs);
            fields.push(FieldInfo {
                ident,
                wire,
                ty: field.ty.clone(),
                optional,
                date_time,
            });
        }
        st.attrs.push(syn::parse_quote!(#[non_exhaustive]));
        if !secrets.is_empty() {
            impls.push(redacted_debug(st, &fields, &secrets)?);
        }

        // The constructor takes the required properties in the spec's `required` order.
        let required_order: Vec<String> = schema
            .and_then(|s| s.get("required"))
            .and_then(Value::as_array)
            .map(|r| {
                r.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let mut required: Vec<&FieldInfo> = fields.iter().filter(|f| !f.optional).collect();
        required.sort_by_key(|f| {
            required_order
                .iter()
                .position(|r| *r == f.wire)
                .unwrap_or(usize::MAX)
        });
        let params: Vec<String> = required
            .iter()
            .map(|f| format!("{}: {}", f.ident, type_string(&f.ty)))
            .collect();
        let inits: Vec<String> = fields
            .iter()
            .map(|f| {
                if f.optional {
                    format!("{}: Default::default()", f.ident)
                } else {
                    f.ident.clone()
                }
            })
            .collect();
        let required_list = if required.is_empty() {
            "none".to_owned()
        } else {
            required
                .iter()
                .map(|f| format!("`{}`", f.wire))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut methods = format!(
            "/// A `{name}` from its required properties ({required_list}); every optional one unset.\n\
             #[allow(clippy::too_many_arguments)]\n\
             pub fn new({}) -> Self {{ Self {{ {} }} }}\n",
            params.join(", "),
            inits.join(", ")
        );
        for f in fields.iter().filter(|f| f.optional) {
            let (arg, value) = match option_inner(&f.ty) {
                Some(inner) => (type_string(inner), "Some(value)"),
                None => (type_string(&f.ty), "value"),
            };
            let _ = write!(
                methods,
                "/// Sets `{wire}`.\n#[must_use]\npub fn with_{ident}(mut self, value: {arg}) -> Self {{ self.{ident} = {value}; self }}\n",
                wire = f.wire,
                ident = f.ident.trim_start_matches("r#"),
            );
        }
        for f in fields.iter().filter(|f| !f.optional) {
            let _ = write!(
                methods,
                "/// Sets `{wire}`.\n#[must_use]\npub fn with_{ident}(mut self, value: {ty}) -> Self {{ self.{raw} = value; self }}\n",
                wire = f.wire,
                ident = f.ident.trim_start_matches("r#"),
                raw = f.ident,
                ty = type_string(&f.ty),
            );
        }
        let block: syn::ItemImpl = syn::parse_str(&format!("impl {name} {{ {methods} }}"))
            .map_err(|e| format!("constructor of {name}: {e}"))?;
        impls.push(syn::Item::Impl(block));
        infos.push(StructInfo { name, fields });
    }
    items.extend(impls);
    Ok(infos)
}

/// Drops `Debug` from a struct's derives and writes one that prints `<redacted>` for the
/// properties marked `x-wavekat-secret`.
pub(crate) fn redacted_debug(
    st: &mut syn::ItemStruct,
    fields: &[FieldInfo],
    secrets: &[String],
) -> Result<syn::Item, BoxError> {
    for attr in st.attrs.iter_mut().filter(|a| a.path().is_ident("derive")) {
        let paths = attr.parse_args_with(
            syn::punctuated::Punctuated::<syn::Path, syn::Token![,]>::parse_terminated,
        )?;
        let kept: Vec<&syn::Path> = paths
            .iter()
            .filter(|p| p.segments.last().is_none_or(|s| s.ident != "Debug"))
            .collect();
        *attr = syn::parse_quote!(#[derive(#(#kept),*)]);
    }
    let name = st.ident.to_string();
    let mut body = format!("f.debug_struct({name:?})");
    for f in fields {
        if secrets.contains(&f.wire) {
            let _ = write!(body, ".field({:?}, &\"<redacted>\")", f.wire);
        } else {
            let _ = write!(body, ".field({:?}, &self.{})", f.wire, f.ident);
        }
    }
    let source = format!(
        "/// Leaves out the properties the spec marks `{SECRET_MARK}`.\n\
         impl ::std::fmt::Debug for {name} {{\n\
             fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {{ {body}.finish() }}\n\
         }}"
    );
    Ok(syn::Item::Impl(
        syn::parse_str(&source).map_err(|e| format!("Debug of {name}: {e}"))?,
    ))
}
