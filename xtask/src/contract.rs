//! Classifies every difference between two OpenAPI 3.0 documents (the contract as last released,
//! and the working one) as breaking, additive or cosmetic, from the point of view of this crate's
//! users: Rust code built against the types and methods generated from the spec, talking to a
//! platform that serves it.
//!
//! The rules (a difference not covered by one is breaking: the gate errs on the side of a bump):
//!
//! - **Operations** (`paths.<path>.<method>`): removed, or its `operationId` renamed → breaking
//!   (a generated method disappears). Added → additive. A parameter removed or added → breaking
//!   (the generated methods are positional: their argument list changes), as is a parameter's
//!   `required` flipping either way (`T` ↔ `Option<T>`). A request body added, removed or its
//!   `required` flipped, or a request media type removed → breaking. A response status removed,
//!   or a success (2xx) status added → breaking (the method's return type changes); an error
//!   status added → additive. Security requirements changed → breaking unless dropped entirely.
//!   `x-wavekat-signing` changed or dropped → breaking (the platform would refuse the requests;
//!   first stated on an operation the released contract left unannotated → additive, since the
//!   crate then kept that fact in code); other
//!   vendor extensions (such as `x-wavekat-idempotent`) → additive (behaviour, not shape).
//! - **Schemas** (`components.schemas.<Name>`, every one, including those no operation refers to,
//!   such as the mobile frames): removed → breaking, added → additive. Within one:
//!   a property removed → breaking; added optional → additive; added required → breaking; an
//!   existing property becoming required → breaking; a required property becoming optional →
//!   breaking (its Rust field becomes an `Option`, breaking code that reads or builds it);
//!   `type`, `format`, `$ref` target, `nullable`, `readOnly`/`writeOnly` changed → breaking
//!   (the Rust type changes, or what may be sent does), except `format: date-time` added to a
//!   string → additive: the build strips that format from progenitor's copy, so the Rust field
//!   stays a `String`; in a response it is a promise to readers, and in a request the crate
//!   marks with it only timestamps the platform already refused with 400 when not RFC 3339, so
//!   what may be sent did not narrow (the client refuses them before sending instead; a format
//!   marking a check the platform newly enforces would be breaking, which the gate cannot see:
//!   do not add one so); `format: date-time` removed or changed stays breaking; an enum value
//!   removed → breaking, added →
//!   additive (the enums keep unknown values); a `oneOf`/`anyOf` member removed → breaking, added →
//!   additive; an `allOf` member added or removed → breaking; a discriminator mapping removed or
//!   retargeted → breaking, added → additive; a bound (`minimum`, `maxLength`, `maxItems`,
//!   `pattern`, `additionalProperties: false`, …) tightened or added → breaking (narrowed),
//!   loosened or removed → additive; `default` changed → additive; a vendor extension
//!   (`x-wavekat-transport`) or documentation changed → cosmetic.
//! - **Cosmetic**: `description`, `summary`, `title`, `example(s)`, `tags`, `deprecated`,
//!   `externalDocs`, `info`, `servers`: listed, never breaking.

use std::collections::BTreeSet;
use std::fmt;

use serde_json::{Map, Value};

/// How a difference affects the crate's users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    /// Breaks code built against the released contract, or requests it makes.
    Breaking,
    /// Compatible: the released contract's users keep building and working.
    Additive,
    /// Documentation only.
    Cosmetic,
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Class::Breaking => "breaking",
            Class::Additive => "additive",
            Class::Cosmetic => "cosmetic",
        })
    }
}

/// One difference: its class, where it is (a dotted path into the spec), and what changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// Breaking, additive or cosmetic.
    pub class: Class,
    /// Where, e.g. `components.schemas.VoiceCallRecord.properties.partyName`.
    pub path: String,
    /// What, e.g. `removed`.
    pub what: String,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} {}", self.class, self.path, self.what)
    }
}

/// Every difference from `released` to `working`: breaking first, then additive, then cosmetic,
/// each class in key order.
pub fn compare(released: &Value, working: &Value) -> Vec<Difference> {
    let mut diff = Diff::default();
    diff.document(released, working);
    diff.found.sort_by_key(|d| d.class);
    diff.found
}

const COSMETIC: &[&str] = &[
    "description",
    "summary",
    "title",
    "example",
    "examples",
    "tags",
    "deprecated",
    "externalDocs",
];

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);

fn object(v: Option<&Value>) -> &Map<String, Value> {
    v.and_then(Value::as_object).unwrap_or(&EMPTY)
}

/// The union of two objects' keys: the released ones first (sorted), then the new ones.
fn keys<'a>(old: &'a Map<String, Value>, new: &'a Map<String, Value>) -> Vec<&'a String> {
    let mut out: Vec<&String> = old.keys().collect();
    out.extend(new.keys().filter(|k| !old.contains_key(*k)));
    out
}

/// `changed from <old> to <new>`, each side as [`short`], an absent side shown as `absent`.
fn changed(old: Option<&Value>, new: Option<&Value>, absent: &str) -> String {
    format!(
        "changed from {} to {}",
        old.map_or(absent.to_owned(), short),
        new.map_or(absent.to_owned(), short)
    )
}

fn short(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() > 60 {
        format!("{}…", text.chars().take(60).collect::<String>())
    } else {
        text
    }
}

#[derive(Default)]
struct Diff {
    found: Vec<Difference>,
}

impl Diff {
    fn push(&mut self, class: Class, path: impl Into<String>, what: impl Into<String>) {
        self.found.push(Difference {
            class,
            path: path.into(),
            what: what.into(),
        });
    }

    fn document(&mut self, old: &Value, new: &Value) {
        let (o, n) = (object(Some(old)), object(Some(new)));
        for key in keys(o, n) {
            let (a, b) = (o.get(key.as_str()), n.get(key.as_str()));
            if a == b {
                continue;
            }
            match key.as_str() {
                "paths" => self.paths(object(a), object(b)),
                "components" => self.components(object(a), object(b)),
                "info" | "servers" | "tags" | "externalDocs" => {
                    self.push(Class::Cosmetic, key.as_str(), "changed")
                }
                "security" => self.security(key, a, b),
                _ => self.unclassified(key, a, b),
            }
        }
    }

    /// A difference no rule covers: breaking, so the gate never lets one through unexamined.
    fn unclassified(&mut self, path: &str, old: Option<&Value>, new: Option<&Value>) {
        let what = match (old, new) {
            (Some(_), None) => "removed (no rule covers it; treated as breaking)".to_owned(),
            (None, Some(b)) => format!(
                "added as {} (no rule covers it; treated as breaking)",
                short(b)
            ),
            (Some(a), Some(b)) => format!(
                "changed from {} to {} (no rule covers it; treated as breaking)",
                short(a),
                short(b)
            ),
            (None, None) => return,
        };
        self.push(Class::Breaking, path, what);
    }

    fn security(&mut self, path: &str, old: Option<&Value>, new: Option<&Value>) {
        let dropped = new.is_some_and(|v| v.as_array().is_some_and(Vec::is_empty));
        if dropped {
            self.push(Class::Additive, path, "no longer required");
        } else {
            self.push(Class::Breaking, path, changed(old, new, "(none)"));
        }
    }

    fn paths(&mut self, old: &Map<String, Value>, new: &Map<String, Value>) {
        for path in keys(old, new) {
            let at = format!("paths.{path}");
            let (o, n) = (object(old.get(path)), object(new.get(path)));
            let shared = |item: &Map<String, Value>| item.get("parameters").cloned();
            for key in keys(o, n) {
                let (a, b) = (o.get(key.as_str()), n.get(key.as_str()));
                if a == b || key == "parameters" {
                    continue;
                }
                let here = format!("{at}.{key}");
                if METHODS.contains(&key.as_str()) {
                    match (a, b) {
                        (Some(a), None) => self.push(
                            Class::Breaking,
                            here,
                            format!("removed (operation {})", operation_id(a)),
                        ),
                        (None, Some(b)) => self.push(
                            Class::Additive,
                            here,
                            format!("added (operation {})", operation_id(b)),
                        ),
                        (Some(a), Some(b)) => self.operation(&here, a, b, shared(o), shared(n)),
                        (None, None) => {}
                    }
                } else if COSMETIC.contains(&key.as_str()) {
                    self.push(Class::Cosmetic, here, "changed");
                } else {
                    self.unclassified(&here, a, b);
                }
            }
            // Path-level parameters apply to every operation under the path.
            if o.get("parameters") != n.get("parameters") {
                for method in METHODS {
                    if let (Some(a), Some(b)) = (o.get(*method), n.get(*method)) {
                        if a == b {
                            self.parameters(&format!("{at}.{method}"), a, b, shared(o), shared(n));
                        }
                    }
                }
            }
        }
    }

    fn operation(
        &mut self,
        at: &str,
        old: &Value,
        new: &Value,
        old_shared: Option<Value>,
        new_shared: Option<Value>,
    ) {
        let (o, n) = (object(Some(old)), object(Some(new)));
        for key in keys(o, n) {
            let (a, b) = (o.get(key.as_str()), n.get(key.as_str()));
            let here = format!("{at}.{key}");
            match key.as_str() {
                "parameters" => {} // with the path-level ones, below
                _ if a == b => {}
                "operationId" => self.push(
                    Class::Breaking,
                    here,
                    format!(
                        "renamed from {} to {}",
                        a.map_or("(none)".to_owned(), short),
                        b.map_or("(none)".to_owned(), short)
                    ),
                ),
                "requestBody" => self.request_body(&here, a, b),
                "responses" => self.responses(&here, object(a), object(b)),
                "security" => self.security(&here, a, b),
                // Annotating an operation the released contract left unannotated states a fact
                // the crate already kept in code; changing or dropping a stated one is breaking.
                "x-wavekat-signing" if a.is_none() => self.push(
                    Class::Additive,
                    here,
                    format!(
                        "stated as {} (the released contract did not state it)",
                        b.map_or("(none)".to_owned(), short)
                    ),
                ),
                "x-wavekat-signing" => self.push(
                    Class::Breaking,
                    here,
                    format!(
                        "{} (the platform checks release signatures)",
                        changed(a, b, "(none)")
                    ),
                ),
                k if k.starts_with("x-") => {
                    self.push(Class::Additive, here, changed(a, b, "(none)"))
                }
                k if COSMETIC.contains(&k) => self.push(Class::Cosmetic, here, "changed"),
                _ => self.unclassified(&here, a, b),
            }
        }
        self.parameters(at, old, new, old_shared, new_shared);
    }

    /// Parameters, keyed by `in` and `name`, the path item's merged under the operation's.
    fn parameters(
        &mut self,
        at: &str,
        old: &Value,
        new: &Value,
        old_shared: Option<Value>,
        new_shared: Option<Value>,
    ) {
        let collect = |op: &Value, shared: Option<Value>| {
            let mut out: Vec<(String, Value)> = Vec::new();
            let lists = [shared, op.get("parameters").cloned()];
            for list in lists.into_iter().flatten() {
                for p in list.as_array().into_iter().flatten() {
                    let key = match (p.get("in"), p.get("name"), p.get("$ref")) {
                        (Some(i), Some(n), _) => format!(
                            "{}.{}",
                            i.as_str().unwrap_or("?"),
                            n.as_str().unwrap_or("?")
                        ),
                        (_, _, Some(r)) => r.as_str().unwrap_or("?").to_owned(),
                        _ => short(p),
                    };
                    out.retain(|(k, _)| *k != key);
                    out.push((key, p.clone()));
                }
            }
            out
        };
        let (o, n) = (collect(old, old_shared), collect(new, new_shared));
        let find = |list: &[(String, Value)], key: &str| {
            list.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
        };
        let mut names: Vec<String> = o.iter().map(|(k, _)| k.clone()).collect();
        names.extend(
            n.iter()
                .map(|(k, _)| k.clone())
                .filter(|k| !o.iter().any(|(ok, _)| ok == k)),
        );
        for key in names {
            let here = format!("{at}.parameters.{key}");
            match (find(&o, &key), find(&n, &key)) {
                (Some(_), None) => self.push(
                    Class::Breaking,
                    here,
                    "removed (the generated method loses an argument)",
                ),
                (None, Some(_)) => self.push(
                    Class::Breaking,
                    here,
                    "added (the generated method gains an argument)",
                ),
                (Some(a), Some(b)) if a != b => {
                    let (a, b) = (object(Some(&a)), object(Some(&b)));
                    for k in keys(a, b) {
                        let (x, y) = (a.get(k.as_str()), b.get(k.as_str()));
                        if x == y {
                            continue;
                        }
                        let there = format!("{here}.{k}");
                        match k.as_str() {
                            "schema" => self.schema(&there, x, y),
                            "required" => {
                                let now = y.and_then(Value::as_bool).unwrap_or(false);
                                self.push(
                                    Class::Breaking,
                                    here.clone(),
                                    if now {
                                        "is now required"
                                    } else {
                                        "is no longer required (its argument becomes an Option)"
                                    },
                                );
                            }
                            k if COSMETIC.contains(&k) => {
                                self.push(Class::Cosmetic, there, "changed")
                            }
                            _ => self.unclassified(&there, x, y),
                        }
                    }
                }
                _ => {}
            }
        }
    }

    fn request_body(&mut self, at: &str, old: Option<&Value>, new: Option<&Value>) {
        match (old, new) {
            (Some(_), None) => self.push(Class::Breaking, at, "removed"),
            (None, Some(_)) => self.push(
                Class::Breaking,
                at,
                "added (the generated method gains an argument)",
            ),
            (Some(a), Some(b)) => {
                let (a, b) = (object(Some(a)), object(Some(b)));
                for k in keys(a, b) {
                    let (x, y) = (a.get(k.as_str()), b.get(k.as_str()));
                    if x == y {
                        continue;
                    }
                    let here = format!("{at}.{k}");
                    match k.as_str() {
                        "content" => self.content(&here, object(x), object(y), false),
                        "required" => self.push(Class::Breaking, here, "changed"),
                        "$ref" => self.reference(&here, x, y),
                        k if COSMETIC.contains(&k) => self.push(Class::Cosmetic, here, "changed"),
                        _ => self.unclassified(&here, x, y),
                    }
                }
            }
            (None, None) => {}
        }
    }

    /// Media types of a body: one removed is breaking; one added to a request is additive (the
    /// client keeps sending the old one), to a response breaking only if it is the sole one.
    fn content(
        &mut self,
        at: &str,
        old: &Map<String, Value>,
        new: &Map<String, Value>,
        response: bool,
    ) {
        for media in keys(old, new) {
            let here = format!("{at}.{media}");
            match (old.get(media.as_str()), new.get(media.as_str())) {
                (Some(_), None) => self.push(Class::Breaking, here, "removed"),
                (None, Some(_)) if response && old.is_empty() => self.push(
                    Class::Breaking,
                    here,
                    "added (the response now has a body to decode)",
                ),
                (None, Some(_)) => self.push(Class::Additive, here, "added"),
                (Some(a), Some(b)) if a != b => {
                    let (a, b) = (object(Some(a)), object(Some(b)));
                    for k in keys(a, b) {
                        let (x, y) = (a.get(k.as_str()), b.get(k.as_str()));
                        if x == y {
                            continue;
                        }
                        let there = format!("{here}.{k}");
                        match k.as_str() {
                            "schema" => self.schema(&there, x, y),
                            k if COSMETIC.contains(&k) => {
                                self.push(Class::Cosmetic, there, "changed")
                            }
                            _ => self.unclassified(&there, x, y),
                        }
                    }
                }
                _ => {}
            }
        }
    }

    fn responses(&mut self, at: &str, old: &Map<String, Value>, new: &Map<String, Value>) {
        for status in keys(old, new) {
            let here = format!("{at}.{status}");
            let success = status.starts_with('2');
            match (old.get(status.as_str()), new.get(status.as_str())) {
                (Some(_), None) => self.push(Class::Breaking, here, "removed"),
                (None, Some(_)) if success => self.push(
                    Class::Breaking,
                    here,
                    "added (a second success answer changes the method's return type)",
                ),
                (None, Some(_)) => self.push(Class::Additive, here, "added"),
                (Some(a), Some(b)) if a != b => self.response(&here, a, b),
                _ => {}
            }
        }
    }

    fn response(&mut self, at: &str, old: &Value, new: &Value) {
        let (a, b) = (object(Some(old)), object(Some(new)));
        for k in keys(a, b) {
            let (x, y) = (a.get(k.as_str()), b.get(k.as_str()));
            if x == y {
                continue;
            }
            let here = format!("{at}.{k}");
            match k.as_str() {
                "content" => self.content(&here, object(x), object(y), true),
                "$ref" => self.reference(&here, x, y),
                k if COSMETIC.contains(&k) => self.push(Class::Cosmetic, here, "changed"),
                _ => self.unclassified(&here, x, y),
            }
        }
    }

    fn reference(&mut self, at: &str, old: Option<&Value>, new: Option<&Value>) {
        self.push(
            Class::Breaking,
            at,
            format!("{} (a different type)", changed(old, new, "(inline)")),
        );
    }

    fn components(&mut self, old: &Map<String, Value>, new: &Map<String, Value>) {
        for section in keys(old, new) {
            let (o, n) = (object(old.get(section)), object(new.get(section)));
            for name in keys(o, n) {
                let here = format!("components.{section}.{name}");
                match (o.get(name.as_str()), n.get(name.as_str())) {
                    (Some(_), None) => self.push(Class::Breaking, here, "removed"),
                    (None, Some(_)) => self.push(Class::Additive, here, "added"),
                    (Some(a), Some(b)) if a != b => match section.as_str() {
                        "schemas" => self.schema(&here, Some(a), Some(b)),
                        "responses" => self.response(&here, a, b),
                        "requestBodies" => self.request_body(&here, Some(a), Some(b)),
                        _ => self.unclassified(&here, Some(a), Some(b)),
                    },
                    _ => {}
                }
            }
        }
    }

    fn schema(&mut self, at: &str, old: Option<&Value>, new: Option<&Value>) {
        let (Some(old), Some(new)) = (old, new) else {
            match (old, new) {
                (Some(_), None) => self.push(Class::Breaking, at, "removed"),
                (None, Some(_)) => self.push(Class::Breaking, at, "added (narrowed)"),
                _ => {}
            }
            return;
        };
        if old == new {
            return;
        }
        let (o, n) = (object(Some(old)), object(Some(new)));
        if o.is_empty() || n.is_empty() {
            // `true`/`false` schemas or a non-object: compare as a whole.
            self.unclassified(at, Some(old), Some(new));
            return;
        }
        let required = |m: &Map<String, Value>| -> BTreeSet<String> {
            m.get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        };
        let (old_required, new_required) = (required(o), required(n));
        for key in keys(o, n) {
            let (a, b) = (o.get(key.as_str()), n.get(key.as_str()));
            if a == b && key != "properties" {
                continue;
            }
            let here = format!("{at}.{key}");
            match key.as_str() {
                "properties" => self.properties(at, o, n, &old_required, &new_required),
                "required" => {} // with the properties
                "$ref" => self.reference(&here, a, b),
                "format"
                    if a.is_none()
                        && b.and_then(Value::as_str) == Some("date-time")
                        && o.get("type").and_then(Value::as_str) == Some("string")
                        && n.get("type").and_then(Value::as_str) == Some("string") =>
                {
                    self.push(
                        Class::Additive,
                        here,
                        "\"date-time\" added to a string (its Rust field stays a String; \
                         sync records are now checked against it before sending)",
                    )
                }
                "type" | "format" | "nullable" | "readOnly" | "writeOnly" => {
                    self.push(Class::Breaking, here, changed(a, b, "(none)"))
                }
                "enum" => self.enumeration(&here, a, b),
                "items" | "not" => self.schema(&here, a, b),
                "additionalProperties" => self.additional_properties(&here, a, b),
                "oneOf" | "anyOf" => self.members(&here, a, b, Class::Additive),
                "allOf" => self.members(&here, a, b, Class::Breaking),
                "discriminator" => self.discriminator(&here, object(a), object(b)),
                "default" => self.push(Class::Additive, here, "changed"),
                "minimum" | "minLength" | "minItems" | "minProperties" => {
                    self.bound(&here, a, b, |old, new| new > old)
                }
                "maximum" | "maxLength" | "maxItems" | "maxProperties" => {
                    self.bound(&here, a, b, |old, new| new < old)
                }
                "exclusiveMinimum" | "exclusiveMaximum" | "uniqueItems" | "pattern"
                | "multipleOf" => match b {
                    None | Some(Value::Bool(false)) => {
                        self.push(Class::Additive, here, "removed (loosened)")
                    }
                    _ => self.push(
                        Class::Breaking,
                        here,
                        format!("{} (narrowed)", changed(a, b, "(none)")),
                    ),
                },
                k if k.starts_with("x-") || COSMETIC.contains(&k) => {
                    self.push(Class::Cosmetic, here, "changed")
                }
                _ => self.unclassified(&here, a, b),
            }
        }
        // `required` naming properties the schema does not list (allOf compositions).
        let listed = |m: &Map<String, Value>, p: &str| object(m.get("properties")).contains_key(p);
        for p in new_required.difference(&old_required) {
            if !listed(o, p) && !listed(n, p) {
                self.push(Class::Breaking, format!("{at}.required.{p}"), "added");
            }
        }
        for p in old_required.difference(&new_required) {
            if !listed(o, p) && !listed(n, p) {
                self.push(Class::Breaking, format!("{at}.required.{p}"), "removed");
            }
        }
    }

    fn properties(
        &mut self,
        at: &str,
        o: &Map<String, Value>,
        n: &Map<String, Value>,
        old_required: &BTreeSet<String>,
        new_required: &BTreeSet<String>,
    ) {
        let (old, new) = (object(o.get("properties")), object(n.get("properties")));
        for name in keys(old, new) {
            let here = format!("{at}.properties.{name}");
            let (was, is) = (old_required.contains(name), new_required.contains(name));
            match (old.get(name.as_str()), new.get(name.as_str())) {
                (Some(_), None) => self.push(Class::Breaking, here, "removed"),
                (None, Some(_)) if is => self.push(Class::Breaking, here, "added as required"),
                (None, Some(_)) => self.push(Class::Additive, here, "added (optional)"),
                (Some(a), Some(b)) => {
                    if !was && is {
                        self.push(Class::Breaking, here.clone(), "is now required");
                    } else if was && !is {
                        self.push(
                            Class::Breaking,
                            here.clone(),
                            "is no longer required (its Rust field becomes an Option)",
                        );
                    }
                    self.schema(&here, Some(a), Some(b));
                }
                (None, None) => {}
            }
        }
    }

    fn enumeration(&mut self, at: &str, old: Option<&Value>, new: Option<&Value>) {
        match (old.and_then(Value::as_array), new.and_then(Value::as_array)) {
            (Some(a), Some(b)) => {
                for v in a.iter().filter(|v| !b.contains(v)) {
                    self.push(Class::Breaking, at, format!("value {v} removed"));
                }
                for v in b.iter().filter(|v| !a.contains(v)) {
                    self.push(Class::Additive, at, format!("value {v} added"));
                }
            }
            (None, Some(_)) => self.push(Class::Breaking, at, "added (narrowed to a list)"),
            (Some(_), None) => self.push(
                Class::Breaking,
                at,
                "removed (the enum type becomes a plain value)",
            ),
            (None, None) => {}
        }
    }

    fn additional_properties(&mut self, at: &str, old: Option<&Value>, new: Option<&Value>) {
        let open = |v: Option<&Value>| !matches!(v, Some(Value::Bool(false)));
        match (old, new) {
            (Some(a @ Value::Object(_)), Some(b @ Value::Object(_))) => {
                self.schema(at, Some(a), Some(b))
            }
            _ if open(old) && !open(new) => {
                self.push(Class::Breaking, at, "closed (unknown keys refused)")
            }
            _ if !open(old) && open(new) => self.push(Class::Additive, at, "opened"),
            _ => self.unclassified(at, old, new),
        }
    }

    /// `oneOf`/`anyOf`/`allOf` members, matched by `$ref` when they are references, else by
    /// position; `added` classifies a new member.
    fn members(&mut self, at: &str, old: Option<&Value>, new: Option<&Value>, added: Class) {
        let list = |v: Option<&Value>| -> Vec<Value> {
            v.and_then(Value::as_array).cloned().unwrap_or_default()
        };
        let (a, b) = (list(old), list(new));
        let key = |i: usize, v: &Value| {
            v.get("$ref")
                .and_then(Value::as_str)
                .map(|r| r.rsplit('/').next().unwrap_or(r).to_owned())
                .unwrap_or_else(|| i.to_string())
        };
        let a: Vec<(String, &Value)> = a.iter().enumerate().map(|(i, v)| (key(i, v), v)).collect();
        let b: Vec<(String, &Value)> = b.iter().enumerate().map(|(i, v)| (key(i, v), v)).collect();
        for (k, v) in &a {
            let here = format!("{at}[{k}]");
            match b.iter().find(|(bk, _)| bk == k) {
                None => self.push(Class::Breaking, here, "member removed"),
                Some((_, w)) => self.schema(&here, Some(v), Some(w)),
            }
        }
        for (k, _) in b.iter().filter(|(k, _)| !a.iter().any(|(ak, _)| ak == k)) {
            self.push(added, format!("{at}[{k}]"), "member added");
        }
    }

    fn discriminator(&mut self, at: &str, old: &Map<String, Value>, new: &Map<String, Value>) {
        for k in keys(old, new) {
            let (a, b) = (old.get(k.as_str()), new.get(k.as_str()));
            if a == b {
                continue;
            }
            let here = format!("{at}.{k}");
            if k == "mapping" {
                let (a, b) = (object(a), object(b));
                for tag in keys(a, b) {
                    let there = format!("{here}.{tag}");
                    match (a.get(tag.as_str()), b.get(tag.as_str())) {
                        (Some(_), None) => self.push(Class::Breaking, there, "removed"),
                        (None, Some(_)) => self.push(Class::Additive, there, "added"),
                        (Some(x), Some(y)) if x != y => self.reference(&there, Some(x), Some(y)),
                        _ => {}
                    }
                }
            } else {
                self.unclassified(&here, a, b);
            }
        }
    }

    /// A numeric bound: `narrowed(old, new)` says whether the new bound is tighter. Adding a bound
    /// narrows; removing one loosens.
    fn bound(
        &mut self,
        at: &str,
        old: Option<&Value>,
        new: Option<&Value>,
        narrowed: fn(f64, f64) -> bool,
    ) {
        let what = |class, verb: &str| {
            (
                class,
                format!(
                    "{verb} from {} to {}",
                    old.map_or("(none)".to_owned(), short),
                    new.map_or("(none)".to_owned(), short)
                ),
            )
        };
        let (class, text) = match (old.and_then(Value::as_f64), new.and_then(Value::as_f64)) {
            (None, Some(_)) => what(Class::Breaking, "narrowed"),
            (Some(_), None) => what(Class::Additive, "loosened"),
            (Some(a), Some(b)) if narrowed(a, b) => what(Class::Breaking, "narrowed"),
            (Some(_), Some(_)) => what(Class::Additive, "loosened"),
            (None, None) => what(Class::Breaking, "changed"),
        };
        self.push(class, at, text);
    }
}

fn operation_id(op: &Value) -> String {
    op.get("operationId")
        .and_then(Value::as_str)
        .unwrap_or("without operationId")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn released() -> Value {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../schema/released/openapi-0.1.0.json"
        ))
        .unwrap();
        serde_json::from_str(&text).unwrap()
    }

    fn lines(old: &Value, new: &Value) -> Vec<String> {
        compare(old, new).iter().map(|d| d.to_string()).collect()
    }

    fn edited_spec(edit: impl FnOnce(&mut Value)) -> Value {
        let mut spec = released();
        edit(&mut spec);
        spec
    }

    fn edited(edit: impl FnOnce(&mut Value)) -> Vec<String> {
        lines(&released(), &edited_spec(edit))
    }

    #[test]
    fn the_released_contract_has_no_difference_with_itself() {
        let spec = released();
        assert_eq!(lines(&spec, &spec), Vec::<String>::new());
    }

    #[test]
    fn a_removed_property_is_breaking_and_named() {
        let found = edited(|s| {
            s["components"]["schemas"]["VoiceCallRecord"]["properties"]
                .as_object_mut()
                .unwrap()
                .remove("party");
        });
        assert_eq!(
            found,
            ["breaking: components.schemas.VoiceCallRecord.properties.party removed"]
        );
    }

    #[test]
    fn an_optional_property_added_is_additive_and_a_required_one_breaking() {
        let found = edited(|s| {
            let record = &mut s["components"]["schemas"]["VoiceCallRecord"];
            record["properties"]["partyLabel"] = json!({"type": "string"});
            record["properties"]["tenant"] = json!({"type": "string"});
            record["required"]
                .as_array_mut()
                .unwrap()
                .push(json!("tenant"));
        });
        assert_eq!(
            found,
            [
                "breaking: components.schemas.VoiceCallRecord.properties.tenant added as required",
                "additive: components.schemas.VoiceCallRecord.properties.partyLabel added (optional)",
            ]
        );
    }

    #[test]
    fn a_date_time_format_added_to_a_string_is_additive_and_any_other_format_change_breaking() {
        let found = edited(|s| {
            let props = &mut s["components"]["schemas"]["VoiceCallRecord"]["properties"];
            props["ringAt"]["format"] = json!("date-time");
            props["party"]["format"] = json!("email");
            props["durationMs"]["format"] = json!("date-time");
        });
        assert_eq!(
            found,
            [
                "breaking: components.schemas.VoiceCallRecord.properties.durationMs.format changed from \"int64\" to \"date-time\"",
                "breaking: components.schemas.VoiceCallRecord.properties.party.format changed from (none) to \"email\"",
                "additive: components.schemas.VoiceCallRecord.properties.ringAt.format \"date-time\" added to a string (its Rust field stays a String; sync records are now checked against it before sending)",
            ]
        );
    }

    #[test]
    fn a_date_time_format_removed_from_a_string_is_breaking() {
        let old = edited_spec(|s| {
            s["components"]["schemas"]["VoiceCallRecord"]["properties"]["ringAt"]["format"] =
                json!("date-time");
        });
        let new = released();
        assert_eq!(
            lines(&old, &new),
            ["breaking: components.schemas.VoiceCallRecord.properties.ringAt.format changed from \"date-time\" to (none)"]
        );
    }

    #[test]
    fn an_existing_property_made_required_or_optional_is_breaking() {
        let found = edited(|s| {
            let required = s["components"]["schemas"]["VoiceCallRecord"]["required"]
                .as_array_mut()
                .unwrap();
            required.retain(|p| p != "party");
            required.push(json!("answerAt"));
        });
        assert_eq!(
            found,
            [
                "breaking: components.schemas.VoiceCallRecord.properties.answerAt is now required",
                "breaking: components.schemas.VoiceCallRecord.properties.party is no longer required (its Rust field becomes an Option)",
            ]
        );
    }

    #[test]
    fn an_enum_value_added_is_additive_and_one_removed_breaking() {
        let found = edited(|s| {
            let values = s["components"]["schemas"]["VoiceCallDirection"]["enum"]
                .as_array_mut()
                .unwrap();
            let gone = values.remove(0);
            values.push(json!("internal"));
            assert_eq!(gone, json!("inbound"));
        });
        assert_eq!(
            found,
            [
                "breaking: components.schemas.VoiceCallDirection.enum value \"inbound\" removed",
                "additive: components.schemas.VoiceCallDirection.enum value \"internal\" added",
            ]
        );
    }

    #[test]
    fn a_type_or_format_change_is_breaking() {
        let found = edited(|s| {
            let limit =
                &mut s["components"]["schemas"]["VoiceCallRecord"]["properties"]["durationMs"];
            limit["format"] = json!("int32");
        });
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(
            found[0].starts_with(
                "breaking: components.schemas.VoiceCallRecord.properties.durationMs.format changed from"
            ),
            "{found:#?}"
        );
    }

    #[test]
    fn a_new_operation_is_additive_and_a_removed_or_renamed_one_breaking() {
        let found = edited(|s| {
            let paths = s["paths"].as_object_mut().unwrap();
            paths.remove("/api/voice/accounts");
            paths["/api/me"]["get"]["operationId"] = json!("who_am_i");
            paths.insert(
                "/api/voice/calls/{sourceId}".into(),
                json!({"get": {"operationId": "getVoiceCall", "responses": {}}}),
            );
        });
        assert_eq!(
            found,
            [
                "breaking: paths./api/me.get.operationId renamed from \"get_me\" to \"who_am_i\"",
                "breaking: paths./api/voice/accounts.get removed (operation list_voice_accounts)",
                "additive: paths./api/voice/calls/{sourceId}.get added (operation getVoiceCall)",
            ]
        );
    }

    #[test]
    fn a_changed_response_type_is_breaking() {
        let found = edited(|s| {
            s["paths"]["/api/me"]["get"]["responses"]["200"]["content"]["application/json"]
                ["schema"]["$ref"] = json!("#/components/schemas/ErrorBody");
        });
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(
            found[0].starts_with(
                "breaking: paths./api/me.get.responses.200.content.application/json.schema.$ref changed from"
            ),
            "{found:#?}"
        );
    }

    #[test]
    fn a_tightened_bound_is_breaking_and_a_loosened_one_additive() {
        let found = edited(|s| {
            let params = s["paths"]["/api/voice/calls"]["get"]["parameters"]
                .as_array_mut()
                .unwrap();
            let limit = params.iter_mut().find(|p| p["name"] == "limit").unwrap();
            limit["schema"]["maximum"] = json!(100);
            limit["schema"]["minimum"] = json!(0);
        });
        assert_eq!(
            found,
            [
                "breaking: paths./api/voice/calls.get.parameters.query.limit.schema.maximum narrowed from 200 to 100",
                "additive: paths./api/voice/calls.get.parameters.query.limit.schema.minimum loosened from 1 to 0",
            ]
        );
    }

    #[test]
    fn a_mobile_frame_no_operation_refers_to_is_still_compared() {
        let found = edited(|s| {
            let frames = s["components"]["schemas"]["ClientFrame"]["oneOf"]
                .as_array_mut()
                .unwrap();
            frames.pop();
        });
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(
            found[0].starts_with("breaking: components.schemas.ClientFrame.oneOf[")
                && found[0].ends_with("member removed"),
            "{found:#?}"
        );
    }

    #[test]
    fn stating_signing_is_additive_and_changing_it_breaking() {
        let heartbeat = "/api/voice/installs/heartbeat";
        let old = released();
        let mut stated = old.clone();
        stated["paths"][heartbeat]["post"]["x-wavekat-signing"] = json!("release");
        assert_eq!(
            lines(&old, &stated),
            ["additive: paths./api/voice/installs/heartbeat.post.x-wavekat-signing stated as \"release\" (the released contract did not state it)"]
        );
        let mut dropped = stated.clone();
        dropped["paths"][heartbeat]["post"]
            .as_object_mut()
            .unwrap()
            .remove("x-wavekat-signing");
        assert_eq!(
            lines(&stated, &dropped),
            ["breaking: paths./api/voice/installs/heartbeat.post.x-wavekat-signing changed from \"release\" to (none) (the platform checks release signatures)"]
        );
    }

    #[test]
    fn documentation_changes_are_cosmetic_and_unknown_ones_breaking() {
        let found = edited(|s| {
            s["components"]["schemas"]["Me"]["description"] = json!("Who you are.");
            s["components"]["schemas"]["Me"]["x-unknown-keyword"] = json!(1);
            s["paths"]["/api/me"]["get"]["x-new-keyword"] = json!(true);
            s["webhooks"] = json!({});
        });
        assert_eq!(
            found,
            [
                "breaking: webhooks added as {} (no rule covers it; treated as breaking)",
                "additive: paths./api/me.get.x-new-keyword changed from (none) to true",
                "cosmetic: components.schemas.Me.description changed",
                "cosmetic: components.schemas.Me.x-unknown-keyword changed",
            ]
        );
    }
}
