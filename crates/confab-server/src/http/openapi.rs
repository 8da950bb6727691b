//! `GET /api/v1/openapi.json`: the OpenAPI 3 document of the REST API, written by hand in
//! `openapi.json` next to this file and embedded in the binary. The tests below keep it true:
//! every route the router records is in it with its method, it documents nothing the router
//! does not serve, and its references and error codes hold.

use axum::http::header;
use axum::response::IntoResponse;

/// The document, as served.
pub const DOCUMENT: &str = include_str!("openapi.json");

/// `GET /api/v1/openapi.json`: no token needed.
pub async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use axum::http::{Method, StatusCode};
    use confab_protocol::ErrorCode;
    use serde_json::Value;

    use super::DOCUMENT;
    use crate::error::AppError;

    /// The methods an OpenAPI path item may hold operations under.
    const METHODS: [&str; 8] = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];

    fn document() -> Value {
        serde_json::from_str(DOCUMENT).expect("openapi.json is JSON")
    }

    /// Every `(METHOD, path)` the document describes.
    fn documented(doc: &Value) -> BTreeSet<(String, String)> {
        let paths = doc["paths"].as_object().expect("paths is an object");
        let mut ops = BTreeSet::new();
        for (path, item) in paths {
            for (key, _) in item.as_object().expect("a path item is an object") {
                if METHODS.contains(&key.as_str()) {
                    ops.insert((key.to_uppercase(), path.clone()));
                }
            }
        }
        ops
    }

    /// Every `(METHOD, path)` the router serves.
    fn routed() -> BTreeSet<(String, String)> {
        let (_, served) = super::super::all_routes(1024, 1024).finish();
        let routes: BTreeSet<_> = served
            .iter()
            .map(|(method, path)| (method.to_string(), (*path).to_owned()))
            .collect();
        assert_eq!(routes.len(), served.len(), "a route is served twice");
        routes
    }

    /// Every operation object, with its method and path.
    fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
        let mut ops = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (key, op) in item.as_object().unwrap() {
                if METHODS.contains(&key.as_str()) {
                    ops.push((key.to_uppercase(), path.clone(), op));
                }
            }
        }
        ops
    }

    fn visit<'a>(value: &'a Value, found: &mut Vec<&'a Value>, key: &str) {
        match value {
            Value::Object(map) => {
                if let Some(v) = map.get(key) {
                    found.push(v);
                }
                map.values().for_each(|v| visit(v, found, key));
            }
            Value::Array(items) => items.iter().for_each(|v| visit(v, found, key)),
            _ => {}
        }
    }

    #[test]
    fn the_document_has_the_openapi_shape() {
        let doc = document();
        let version = doc["openapi"].as_str().expect("an openapi version");
        assert!(version.starts_with("3."), "OpenAPI 3, not {version}");
        assert!(doc["info"]["title"].is_string(), "info.title");
        assert!(doc["info"]["version"].is_string(), "info.version");
        assert!(!doc["paths"].as_object().unwrap().is_empty(), "paths");
        for (_, _, op) in operations(&doc) {
            assert!(
                op["summary"].is_string(),
                "every operation has a summary: {op}"
            );
            assert!(
                op["responses"].is_object(),
                "every operation has responses: {op}"
            );
        }
    }

    #[test]
    fn every_route_is_documented_and_every_documented_operation_is_routed() {
        let doc = document();
        let documented = documented(&doc);
        let routed = routed();
        let undocumented: Vec<_> = routed.difference(&documented).collect();
        assert!(
            undocumented.is_empty(),
            "served but not in openapi.json: {undocumented:?}"
        );
        let unserved: Vec<_> = documented.difference(&routed).collect();
        assert!(
            unserved.is_empty(),
            "in openapi.json but not served: {unserved:?}"
        );
    }

    #[test]
    fn the_checks_see_a_missing_route() {
        // The comparison above is only worth something if it notices a difference.
        let mut documented = documented(&document());
        assert!(documented.remove(&(Method::GET.to_string(), "/healthz".to_owned())));
        assert_ne!(documented, routed());
    }

    #[test]
    fn every_reference_resolves() {
        let doc = document();
        let mut refs = Vec::new();
        visit(&doc, &mut refs, "$ref");
        assert!(!refs.is_empty());
        for reference in refs {
            let reference = reference.as_str().expect("a $ref is a string");
            let pointer = reference
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("{reference} is not local"));
            assert!(
                doc.pointer(pointer).is_some(),
                "{reference} does not resolve"
            );
        }
    }

    #[test]
    fn every_path_parameter_is_declared() {
        let doc = document();
        for (method, path, op) in operations(&doc) {
            let mut declared = BTreeSet::new();
            for param in op["parameters"].as_array().into_iter().flatten() {
                let param = match param["$ref"].as_str() {
                    Some(r) => doc.pointer(&r[1..]).unwrap(),
                    None => param,
                };
                if param["in"] == "path" {
                    assert_eq!(param["required"], true, "{method} {path}: path parameters");
                    declared.insert(param["name"].as_str().unwrap().to_owned());
                }
            }
            let in_path: BTreeSet<_> = path
                .split('/')
                .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
                .map(str::to_owned)
                .collect();
            assert_eq!(declared, in_path, "{method} {path}: parameters");
        }
    }

    #[test]
    fn error_codes_match_the_protocol() {
        let doc = document();
        let listed: BTreeSet<&str> = doc["components"]["schemas"]["ErrorCode"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        let codes: BTreeSet<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(listed, codes);
    }

    /// Every example of an error body names a real code, and the code goes with the status it
    /// is documented under (as `AppError::status` says).
    #[test]
    fn error_examples_have_the_status_of_their_code() {
        let doc = document();
        let mut checked = 0;
        let responses = operations(&doc)
            .into_iter()
            .flat_map(|(m, p, op)| {
                let map = op["responses"].as_object().unwrap();
                map.iter()
                    .map(move |(status, r)| (format!("{m} {p}"), status.clone(), r))
            })
            .chain(
                doc["components"]["responses"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(name, r)| {
                        let status = match name.as_str() {
                            "Unauthorized" => "401",
                            "Internal" => "500",
                            other => panic!("which status is {other}?"),
                        };
                        (name.clone(), status.to_owned(), r)
                    }),
            );
        for (op, status, response) in responses {
            let response = match response["$ref"].as_str() {
                Some(r) => doc.pointer(&r[1..]).unwrap(),
                None => response,
            };
            let examples = response["content"]["application/json"]["examples"].as_object();
            for example in examples.into_iter().flat_map(|e| e.values()) {
                let code: ErrorCode = serde_json::from_value(example["value"]["code"].clone())
                    .unwrap_or_else(|_| panic!("{op} {status}: {example}"));
                assert!(example["value"]["message"].is_string(), "{op} {status}");
                let expected = AppError::new(code, "").status();
                assert_eq!(
                    StatusCode::from_bytes(status.as_bytes()).unwrap(),
                    expected,
                    "{op}: {code} is documented under {status}"
                );
                checked += 1;
            }
        }
        assert!(checked > 50, "only {checked} error examples");
    }

    /// Each error status is the JSON error body; every authenticated operation documents its
    /// `401`, every operation its `500`, and every JSON body its `400` and `413`.
    #[test]
    fn operations_document_their_common_errors() {
        let doc = document();
        let default_security = &doc["security"];
        for (method, path, op) in operations(&doc) {
            let responses = op["responses"].as_object().unwrap();
            let security = op.get("security").unwrap_or(default_security);
            let needs_token = security
                .as_array()
                .is_some_and(|s| !s.is_empty() && s.iter().all(|r| r != &serde_json::json!({})));
            if needs_token {
                assert!(responses.contains_key("401"), "{method} {path}: 401");
            }
            assert!(responses.contains_key("500"), "{method} {path}: 500");
            if op["requestBody"]["content"]["application/json"].is_object() {
                assert!(responses.contains_key("400"), "{method} {path}: 400");
                assert!(responses.contains_key("413"), "{method} {path}: 413");
                assert!(
                    op["requestBody"]["content"]["application/json"]["example"].is_object(),
                    "{method} {path}: a request example"
                );
            }
            for (status, response) in responses {
                // `/readyz` answers 503 with its own report, not an error.
                let report = path == "/readyz" && status == "503";
                if status.starts_with('4') && status != "416" || status.starts_with('5') && !report
                {
                    let response = match response["$ref"].as_str() {
                        Some(r) => doc.pointer(&r[1..]).unwrap(),
                        None => response,
                    };
                    assert_eq!(
                        response["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/Error",
                        "{method} {path} {status}: the error body"
                    );
                }
            }
        }
    }
}
