//! Generates everything the crate derives from `schema/openapi.json`.
//!
//! The checked-in spec is the contract and stays truthful to the wire. Progenitor cannot express
//! some of its facts, so the copy handed to the generator (never the file) is adapted first; each
//! adaptation is listed in `adapt_for_progenitor`. Every other fact the hand-written layers need
//! is read from the spec here and written to `OUT_DIR` as Rust:
//!
//! - `platform_api.rs`: progenitor's client and types. Every generated struct is made
//!   `#[non_exhaustive]` and given `new(<required fields>)` and `with_<optional field>` methods, so
//!   an optional property added to the spec never breaks a consumer's construction; string
//!   properties marked `x-wavekat-token: true` become [`crate::Token`] (redacting `Debug`).
//! - `operations.rs`: one public `Client` method per operation (same name and positional
//!   arguments as progenitor's), mapping the result to `crate::Result`.
//! - `operation_facts.rs`: per operation, whether it may be retried (`x-wavekat-idempotent`, else
//!   the HTTP method), whether it is release-signed (`x-wavekat-signing: release`), and its real
//!   request content type.
//! - `wire_enums.rs`: every string enum of the components, with an `Unknown(String)` catch-all,
//!   plus the table of spec values the test suite checks.
//! - `wire_validate.rs`: per generated struct, the fields holding enum values (refused on send
//!   when unknown), and the records carrying the sync envelope (`schemaVersion` + `extras`).
//! - `sync_endpoints.rs`: the sync resources, from the `POST …/{R}/sync` + `GET …/{R}` pairs.
//! - `wire_components.rs`: every component of the spec with the Rust type that carries it, for
//!   the JSON Schema derived from the Rust types (`crate::wire::component_schemas`).

//!
//! The spec's vendor extensions this reads (everything else follows from plain OpenAPI):
//!
//! | Where | Extension | Meaning |
//! |---|---|---|
//! | operation | `x-wavekat-idempotent: true\|false` | May be retried; default from the method (GET, HEAD, PUT, DELETE, OPTIONS, TRACE yes; POST, PATCH no). |
//! | operation | `x-wavekat-signing: "release"` | Release-signed: no bearer, no user agent, never retried. |
//! | sync operation | `x-wavekat-schema-version: N` | Stamped on records that leave `schemaVersion` unset (default 1). |
//! | list-query property | `x-wavekat-default-known-values: "<Enum>"` | Sent as every known value of the enum, comma-separated, when the query leaves it unset. |
//! | string property | `x-wavekat-token: true` | A bearer token: `crate::Token` (redacting `Debug`); on the wire still a plain string. |
//! | property | `x-wavekat-secret: true` | A secret that is not a token (a one-time code, the sign-in `state`): the struct's `Debug` prints `<redacted>` for it. |
//! | string enum | `x-wavekat-enum-descriptions: {value: text}` | The doc of each Rust variant. |
//! | component | `x-wavekat-transport` | Not an HTTP body (the mobile frames): not generated, hand-written in `src/mobile`. |

use std::collections::BTreeSet;
use std::error::Error;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::{env, fs};

use progenitor::{GenerationSettings, Generator, HooksMode, InterfaceStyle, TagStyle};
use serde_json::Value;

type BoxError = Box<dyn Error>;

const SPEC: &str = "schema/openapi.json";
/// The extension marking a string property as a bearer token: its Rust type is `crate::Token`.
/// A vendor extension, not a `format`: the wire value is an ordinary string, only its Rust
/// representation differs.
const TOKEN_MARK: &str = "x-wavekat-token";
/// The extension marking any other secret property (a one-time code, the sign-in `state`): the
/// type keeps its wire form, but its `Debug` prints `<redacted>` in the field's place.
const SECRET_MARK: &str = "x-wavekat-secret";
const HTTP_METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn main() -> Result<(), BoxError> {
    println!("cargo:rerun-if-changed={SPEC}");
    println!("cargo:rerun-if-changed=build.rs");

    let raw: Value = serde_json::from_str(&fs::read_to_string(SPEC)?)
        .map_err(|e| format!("{SPEC} is not valid JSON: {e}"))?;
    let spec = Spec::new(&raw)?;

    let mut adapted = raw.clone();
    adapt_for_progenitor(&mut adapted);
    let openapi: openapiv3::OpenAPI = serde_json::from_value(adapted)
        .map_err(|e| format!("{SPEC} is not an OpenAPI 3.0 document: {e}"))?;

    let mut settings = GenerationSettings::default();
    settings
        .with_interface(InterfaceStyle::Positional)
        .with_tag(TagStyle::Merged)
        .with_inner_type("crate::client::Hooks".parse()?)
        .with_hooks(HooksMode::Expected)
        .with_derive("PartialEq");
    // Feature `schemars`: the generated types derive `JsonSchema` too.
    if env::var_os("CARGO_FEATURE_SCHEMARS").is_some() {
        settings.with_derive("::schemars::JsonSchema");
    }
    for (name, rust) in spec.replacements() {
        settings.with_replacement(name, rust, std::iter::empty());
    }

    let tokens = Generator::new(&settings).generate_tokens(&openapi)?;
    let mut file: syn::File = syn::parse2(tokens)?;
    let structs = shape_types(&mut file, &spec)?;
    let operations = client_operations(&file)?;

    let out = PathBuf::from(env::var("OUT_DIR")?);
    let write = |name: &str, source: String| -> Result<(), BoxError> {
        let parsed: syn::File = syn::parse_str(&source)
            .map_err(|e| format!("generated {name} does not parse: {e}\n{source}"))?;
        fs::write(out.join(name), prettyplease::unparse(&parsed))?;
        Ok(())
    };
    fs::write(out.join("platform_api.rs"), prettyplease::unparse(&file))?;
    write("operations.rs", operations_source(&operations))?;
    write("operation_facts.rs", spec.operation_facts_source())?;
    write("wire_enums.rs", spec.enums_source())?;
    write("wire_validate.rs", wire_validate_source(&structs, &spec))?;
    write(
        "sync_endpoints.rs",
        spec.sync_endpoints_source(&operations)?,
    )?;
    write("wire_components.rs", spec.components_source()?)?;
    Ok(())
}

/// Adapts the in-memory copy of the spec to what progenitor can generate. Each step names why.
fn adapt_for_progenitor(spec: &mut Value) {
    // 4. The mobile WebSocket frames are published in the spec's components (one schema for every
    //    client) but are not HTTP bodies; their Rust types are hand-written in `src/mobile`
    //    (unknown-type catch-all, byte-array encodings), so progenitor does not generate them.
    if let Some(schemas) = spec
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        schemas.retain(|_, schema| schema.get("x-wavekat-transport").is_none());
    }
    let Some(paths) = spec.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for item in paths.values_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for op in item.values_mut() {
            let Some(op) = op.as_object_mut() else {
                continue;
            };

            // 1. Only 2xx responses are generated. Progenitor parses documented error bodies as
            //    JSON and drops the status when that fails, but the contract matches 401 bodies
            //    as raw text (a proxy may answer in HTML) and error values carry status, URL and
            //    a 500-byte body. Undocumented statuses reach `crate::Error` as raw responses.
            if let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) {
                responses.retain(|status, _| status.starts_with('2'));
            }

            // 2. The release-signature headers of a release-signed operation are computed from
            //    the exact serialized body, which exists only inside the request hook
            //    (`crate::client::Hooks`), so they are not method arguments.
            let release_signed =
                op.get("x-wavekat-signing").and_then(Value::as_str) == Some("release");
            if let Some(params) = op
                .get_mut("parameters")
                .and_then(Value::as_array_mut)
                .filter(|_| release_signed)
            {
                params.retain(|p| p.get("in").and_then(Value::as_str) != Some("header"));
            }

            // 3. Progenitor knows JSON and `application/octet-stream` bodies only; any other
            //    media type stays a streamed byte body here, and the request hook sets the real
            //    `Content-Type` from the spec (`operation_facts.rs`).
            if let Some(content) = op
                .get_mut("requestBody")
                .and_then(|b| b.get_mut("content"))
                .and_then(Value::as_object_mut)
            {
                let others: Vec<String> = content
                    .keys()
                    .filter(|k| !is_json(k) && k.as_str() != "application/octet-stream")
                    .cloned()
                    .collect();
                for media in others {
                    if let Some(body) = content.remove(&media) {
                        content.insert("application/octet-stream".into(), body);
                    }
                }
            }
        }
    }
}

fn is_json(media: &str) -> bool {
    media == "application/json" || media.ends_with("+json")
}

// ---------------------------------------------------------------------------------------------
// Facts read from the spec.
// ---------------------------------------------------------------------------------------------

struct Operation {
    id: String,
    method: String,
    path: String,
    idempotent: bool,
    release_signed: bool,
    content_type: Option<String>,
    /// The `$ref` name of the JSON request body, if any.
    body_schema: Option<String>,
    /// The `$ref` name of the first 2xx JSON response, if any.
    response_schema: Option<String>,
    /// The operation object.
    raw: Value,
}

struct Spec {
    schemas: serde_json::Map<String, Value>,
    operations: Vec<Operation>,
}

fn ref_name(schema: &Value) -> Option<String> {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        return r.strip_prefix("#/components/schemas/").map(str::to_owned);
    }
    // `allOf: [{$ref}]` is how OpenAPI 3.0 attaches `nullable` or a description to a reference.
    match schema.get("allOf").and_then(Value::as_array) {
        Some(all) if all.len() == 1 => all.first().and_then(ref_name),
        _ => None,
    }
}

impl Spec {
    fn new(raw: &Value) -> Result<Spec, BoxError> {
        let schemas = raw
            .pointer("/components/schemas")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let mut operations = Vec::new();
        let paths = raw
            .get("paths")
            .and_then(Value::as_object)
            .ok_or("the spec has no paths")?;
        for (path, item) in paths {
            let Some(item) = item.as_object() else {
                continue;
            };
            for (method, op) in item {
                if !HTTP_METHODS.contains(&method.as_str()) {
                    continue;
                }
                let id = snake_case(op.get("operationId").and_then(Value::as_str).ok_or_else(
                    || format!("{} {path} has no operationId", method.to_uppercase()),
                )?);
                let by_method = matches!(
                    method.as_str(),
                    "get" | "head" | "put" | "delete" | "options" | "trace"
                );
                let idempotent = match op.get("x-wavekat-idempotent") {
                    None => by_method,
                    Some(Value::Bool(b)) => *b,
                    Some(other) => {
                        return Err(format!(
                            "{id}: x-wavekat-idempotent must be true or false, not {other}"
                        )
                        .into())
                    }
                };
                let release_signed = match op.get("x-wavekat-signing") {
                    None => false,
                    Some(Value::String(s)) if s == "release" => true,
                    Some(other) => {
                        return Err(format!(
                            "{id}: x-wavekat-signing must be \"release\", not {other}"
                        )
                        .into())
                    }
                };
                let content = op
                    .pointer("/requestBody/content")
                    .and_then(Value::as_object);
                let content_type = content.and_then(|c| {
                    c.keys()
                        .find(|k| is_json(k))
                        .or_else(|| c.keys().next())
                        .cloned()
                });
                let body_schema = content
                    .and_then(|c| c.iter().find(|(k, _)| is_json(k)))
                    .and_then(|(_, media)| media.get("schema"))
                    .and_then(ref_name);
                let response_schema = op
                    .get("responses")
                    .and_then(Value::as_object)
                    .and_then(|r| r.iter().find(|(status, _)| status.starts_with('2')))
                    .and_then(|(_, resp)| resp.get("content"))
                    .and_then(Value::as_object)
                    .and_then(|c| c.iter().find(|(k, _)| is_json(k)))
                    .and_then(|(_, media)| media.get("schema"))
                    .and_then(ref_name);
                operations.push(Operation {
                    id,
                    method: method.to_uppercase(),
                    path: path.clone(),
                    idempotent: idempotent && !release_signed,
                    release_signed,
                    content_type,
                    body_schema,
                    response_schema,
                    raw: op.clone(),
                });
            }
        }
        Ok(Spec {
            schemas,
            operations,
        })
    }

    fn schema(&self, name: &str) -> Option<&Value> {
        self.schemas.get(name)
    }

    /// HTTP schemas only (the mobile frames are hand-written in `src/mobile`).
    fn http_schemas(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.schemas
            .iter()
            .filter(|(_, s)| s.get("x-wavekat-transport").is_none())
    }

    /// String schemas with an `enum` list.
    fn enums(&self) -> Vec<(&String, &Value, Vec<String>)> {
        self.http_schemas()
            .filter(|(_, s)| s.get("type").and_then(Value::as_str) == Some("string"))
            .filter_map(|(name, s)| {
                let values = s.get("enum")?.as_array()?;
                let values = values
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect();
                Some((name, s, values))
            })
            .collect()
    }

    fn is_enum(&self, name: &str) -> bool {
        self.schema(name).is_some_and(|s| {
            s.get("enum").is_some() && s.get("type").and_then(Value::as_str) == Some("string")
        })
    }

    /// `{items: [R]}` is a sync body and `{items: [R], nextBefore}` a page: both become the
    /// generic hand-written `SyncRequest<R>` / `Page<R>`. Returns (record, is_page).
    fn collection_shape(&self, name: &str) -> Option<(String, bool)> {
        let schema = self.schema(name)?;
        let props = schema.get("properties")?.as_object()?;
        let items = props.get("items")?;
        if items.get("type").and_then(Value::as_str) != Some("array") {
            return None;
        }
        let record = ref_name(items.get("items")?)?;
        let keys: BTreeSet<&str> = props.keys().map(String::as_str).collect();
        match keys.into_iter().collect::<Vec<_>>().as_slice() {
            ["items"] => Some((record, false)),
            ["items", "nextBefore"] => Some((record, true)),
            _ => None,
        }
    }

    /// Spec schemas whose Rust type is hand-written: the enums (catch-all that keeps unknown
    /// strings, generated into `crate::wire` from this same spec) and the per-resource page and
    /// sync-body shapes (the generic `Page<R>` / `SyncRequest<R>` users already know).
    fn replacements(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (name, _, _) in self.enums() {
            out.push((name.clone(), format!("crate::wire::{name}")));
        }
        for (name, _) in self.http_schemas() {
            if let Some((record, page)) = self.collection_shape(name) {
                let generic = if page { "Page" } else { "SyncRequest" };
                out.push((
                    name.clone(),
                    format!("crate::wire::{generic}<types::{record}>"),
                ));
            }
        }
        out
    }

    fn components_source(&self) -> Result<String, BoxError> {
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

    fn operation_facts_source(&self) -> String {
        let mut s = String::from(
            "/// Per-operation facts from the spec, one row per operation.\npub(crate) const OPERATIONS: &[OperationFacts] = &[\n",
        );
        for op in &self.operations {
            let _ = writeln!(
                s,
                "OperationFacts {{ id: {:?}, method: {:?}, path: {:?}, idempotent: {}, release_signed: {}, content_type: {:?} }},",
                op.id, op.method, op.path, op.idempotent, op.release_signed, op.content_type
            );
        }
        s.push_str("];\n");
        s
    }

    fn enums_source(&self) -> String {
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

    fn sync_endpoints_source(&self, operations: &[ClientOperation]) -> Result<String, BoxError> {
        let mut s = String::new();
        for sync in &self.operations {
            let Some(resource_path) = sync.path.strip_suffix("/sync") else {
                continue;
            };
            if sync.method != "POST" {
                continue;
            }
            let Some((record, false)) = sync
                .body_schema
                .as_deref()
                .and_then(|b| self.collection_shape(b))
            else {
                continue;
            };
            let Some(list) = self.operations.iter().find(|op| {
                op.method == "GET"
                    && op.path == resource_path
                    && op
                        .response_schema
                        .as_deref()
                        .and_then(|r| self.collection_shape(r))
                        == Some((record.clone(), true))
            }) else {
                continue;
            };
            let page = list.response_schema.as_deref().unwrap_or_default();
            let marker = page
                .strip_suffix("Page")
                .ok_or_else(|| format!("{page}: a page schema's name ends in Page"))?;
            let query = format!("{marker}Query");
            let query_schema = self
                .schema(&query)
                .ok_or_else(|| format!("{}: the list query schema {query} is missing", list.id))?;
            let resource = resource_path.rsplit('/').next().unwrap_or_default();
            let version = match sync.raw.get("x-wavekat-schema-version") {
                None => 1,
                Some(v) => v.as_u64().ok_or_else(|| {
                    format!("{}: x-wavekat-schema-version must be an integer", sync.id)
                })?,
            };
            let sync_response = sync
                .response_schema
                .as_deref()
                .ok_or_else(|| format!("{}: a sync answers JSON", sync.id))?;
            let response_items = self
                .schema(sync_response)
                .and_then(|s| s.pointer("/properties/items"))
                .is_some();
            let items = if response_items {
                "r.items"
            } else {
                "Vec::new()"
            };

            let list_fn = operations
                .iter()
                .find(|o| o.name == list.id)
                .ok_or_else(|| format!("{}: progenitor generated no method", list.id))?;
            let query_props = query_schema.get("properties").and_then(Value::as_object);
            let mut lets = String::new();
            let mut args = Vec::new();
            for (param, ty) in &list_fn.params {
                let wire = list
                    .raw
                    .get("parameters")
                    .and_then(Value::as_array)
                    .and_then(|ps| {
                        ps.iter().find(|p| {
                            p.get("name")
                                .and_then(Value::as_str)
                                .is_some_and(|n| snake_case(n) == *param)
                        })
                    })
                    .ok_or_else(|| {
                        format!("{}: no spec parameter for argument {param}", list.id)
                    })?;
                let wire_name = wire.get("name").and_then(Value::as_str).unwrap_or_default();
                if query_props.is_none_or(|p| !p.contains_key(wire_name)) {
                    return Err(format!(
                        "{query} has no property {wire_name} for parameter {wire_name} of {}",
                        list.id
                    )
                    .into());
                }
                let property = query_props.and_then(|p| p.get(wire_name));
                let default = match property
                    .and_then(|p| p.get("x-wavekat-default-known-values"))
                    .and_then(Value::as_str)
                {
                    Some(e) if self.is_enum(e) => {
                        format!(".or_else(|| Some(crate::wire::{e}::known_comma_separated()))")
                    }
                    Some(e) => {
                        return Err(format!(
                            "{query}.{wire_name}: x-wavekat-default-known-values names {e}, not an enum schema"
                        )
                        .into())
                    }
                    None => String::new(),
                };
                let _ = writeln!(lets, "let {param} = q.{param}.clone(){default};");
                let compact: String = ty.chars().filter(|c| !c.is_whitespace()).collect();
                args.push(if compact.starts_with("Option<&") {
                    format!("{param}.as_deref()")
                } else if compact.starts_with('&') {
                    format!("&{param}")
                } else {
                    param.clone()
                });
            }
            let paginated = list_fn.params.iter().any(|(p, _)| p == "before")
                && self
                    .schema(page)
                    .and_then(|s| s.pointer("/properties/nextBefore"))
                    .is_some();
            let next = if paginated {
                format!("Some({query} {{ before: Some(before), ..q.clone() }})")
            } else {
                "{ let _ = (q, before); None }".to_owned()
            };
            let doc = format!(
                "Marker for `{resource_path}` (sync with `{}`, list with `{}`); schema version {version}.",
                sync.id, list.id
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

    fn sync<'a>(client: &'a Client, batch: &'a SyncRequest<{record}>) -> BoxFuture<'a, Result<SyncOutcome>> where Self: SyncEndpoint {{
        Box::pin(async move {{
            let r = client.{sync_id}(batch).await?;
            Ok(SyncOutcome {{ accepted: r.accepted, skipped: r.skipped, items: {items} }})
        }})
    }}

    #[allow(clippy::clone_on_copy)]
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
                sync_id = sync.id,
                list_id = list.id,
                args = args.join(", "),
            );
        }
        Ok(s)
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

/// The Rust name progenitor gives an operationId or parameter (its `sanitize(…, Snake)`): heck's
/// snake_case after replacing characters that cannot continue an identifier.
fn snake_case(value: &str) -> String {
    use heck::ToSnakeCase;
    let cleaned: String = value
        .replace('\'', "")
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    cleaned.to_snake_case()
}

// ---------------------------------------------------------------------------------------------
// Shaping progenitor's types.
// ---------------------------------------------------------------------------------------------

struct FieldInfo {
    ident: String,
    wire: String,
    ty: syn::Type,
    optional: bool,
}

struct StructInfo {
    name: String,
    fields: Vec<FieldInfo>,
}

fn type_string(ty: &syn::Type) -> String {
    let file: syn::File = syn::parse_quote!(type T = #ty;);
    prettyplease::unparse(&file)
        .trim()
        .trim_start_matches("type T =")
        .trim_end_matches(';')
        .trim()
        .to_owned()
}

/// `<'a, B: Into<reqwest::Body>>` as text.
fn generics_text(generics: &syn::Generics) -> String {
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

fn serde_rename(attrs: &[syn::Attribute]) -> Option<String> {
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

fn has_serde_default(attrs: &[syn::Attribute]) -> bool {
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
fn option_inner(ty: &syn::Type) -> Option<&syn::Type> {
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
fn shape_types(file: &mut syn::File, spec: &Spec) -> Result<Vec<StructInfo>, BoxError> {
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
            let optional = option_inner(&field.ty).is_some() || has_serde_default(&field.attrs);
            fields.push(FieldInfo {
                ident,
                wire,
                ty: field.ty.clone(),
                optional,
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
fn redacted_debug(
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

fn wire_validate_source(structs: &[StructInfo], spec: &Spec) -> String {
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

// ---------------------------------------------------------------------------------------------
// The public operations.
// ---------------------------------------------------------------------------------------------

struct ClientOperation {
    name: String,
    docs: Vec<syn::Attribute>,
    generics: syn::Generics,
    /// (argument name, type as text)
    params: Vec<(String, String)>,
    inputs: Vec<String>,
    output: String,
}

/// The `T` of `Result<ResponseValue<T>, Error<()>>`.
fn response_type(output: &syn::ReturnType) -> Option<syn::Type> {
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

fn client_operations(file: &syn::File) -> Result<Vec<ClientOperation>, BoxError> {
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

fn operations_source(operations: &[ClientOperation]) -> String {
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
