//! The AWS model (botocore `voice-id/2021-09-27/service-2.json`, Apache-2.0), embedded, and the
//! request validation derived from it: required members, JSON types, lengths, ranges, patterns
//! and enums of every input member, reported the way AWS reports them:
//! `2 validation errors detected: Value 'x' at 'name' failed to satisfy constraint: …; …`.
//!
//! SDKs check only required members and minimums (botocore) or nothing (smithy-rs), so this is
//! where every maximum, regex and enum of the model is enforced.

use std::collections::HashMap;
use std::sync::OnceLock;

use regex::Regex;
use serde_json::Value;

use crate::error::Error;

/// The model file, byte for byte as botocore 1.44.5 ships it.
pub const MODEL_JSON: &str = include_str!("../model/voiceid-service-2.json");

/// The model's `metadata.targetPrefix`.
pub const TARGET_PREFIX: &str = "VoiceID";

/// A member pattern: a compiled regex, or the model's `^\p{ASCII}{0,N}$` (NextToken), which is
/// just "ASCII" once the length is checked and would cost megabytes as an automaton.
#[derive(Debug)]
enum Pattern {
    Regex(Regex),
    Ascii,
}

impl Pattern {
    fn is_match(&self, s: &str) -> bool {
        match self {
            Pattern::Regex(re) => re.is_match(s),
            Pattern::Ascii => s.is_ascii(),
        }
    }
}

#[derive(Debug)]
enum Shape {
    Structure {
        required: Vec<String>,
        members: Vec<(String, String)>,
    },
    List {
        member: String,
        min: Option<i64>,
        max: Option<i64>,
    },
    String {
        min: Option<i64>,
        max: Option<i64>,
        pattern: Option<(String, Pattern)>,
        values: Option<Vec<String>>,
        sensitive: bool,
    },
    Integer {
        min: Option<i64>,
        max: Option<i64>,
    },
    Boolean,
    Timestamp,
}

/// The parsed model: operations and shapes.
#[derive(Debug)]
pub struct Model {
    operations: HashMap<String, Option<String>>,
    shapes: HashMap<String, Shape>,
}

/// The embedded model, parsed on first use.
pub fn model() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| Model::parse(MODEL_JSON))
}

impl Model {
    #[allow(clippy::expect_used)] // the embedded model is a constant, checked by a unit test
    fn parse(text: &str) -> Model {
        let doc: Value = serde_json::from_str(text).expect("the embedded model is JSON");
        let mut operations = HashMap::new();
        if let Some(ops) = doc["operations"].as_object() {
            for (name, op) in ops {
                operations.insert(
                    name.clone(),
                    op["input"]["shape"].as_str().map(str::to_owned),
                );
            }
        }
        let mut shapes = HashMap::new();
        if let Some(all) = doc["shapes"].as_object() {
            for (name, s) in all {
                let int = |k: &str| s[k].as_i64();
                let shape = match s["type"].as_str() {
                    Some("structure") => Shape::Structure {
                        required: s["required"]
                            .as_array()
                            .map(|r| {
                                r.iter()
                                    .filter_map(|v| v.as_str().map(str::to_owned))
                                    .collect()
                            })
                            .unwrap_or_default(),
                        members: s["members"]
                            .as_object()
                            .map(|m| {
                                m.iter()
                                    .filter_map(|(k, v)| {
                                        Some((k.clone(), v["shape"].as_str()?.to_owned()))
                                    })
                                    .collect()
                            })
                            .unwrap_or_default(),
                    },
                    Some("list") => Shape::List {
                        member: s["member"]["shape"].as_str().unwrap_or_default().to_owned(),
                        min: int("min"),
                        max: int("max"),
                    },
                    Some("string") => Shape::String {
                        min: int("min"),
                        max: int("max"),
                        pattern: s["pattern"].as_str().map(|p| {
                            let ascii = p.starts_with("^\\p{ASCII}{0,") && p.ends_with("}$");
                            let compiled = if ascii {
                                Pattern::Ascii
                            } else {
                                Pattern::Regex(Regex::new(p).expect("model patterns compile"))
                            };
                            (p.to_owned(), compiled)
                        }),
                        values: s["enum"].as_array().map(|e| {
                            e.iter()
                                .filter_map(|v| v.as_str().map(str::to_owned))
                                .collect()
                        }),
                        sensitive: s["sensitive"].as_bool().unwrap_or(false),
                    },
                    Some("integer") | Some("long") => Shape::Integer {
                        min: int("min"),
                        max: int("max"),
                    },
                    Some("boolean") => Shape::Boolean,
                    _ => Shape::Timestamp,
                };
                shapes.insert(name.clone(), shape);
            }
        }
        Model { operations, shapes }
    }

    /// Every operation name of the model.
    pub fn operation_names(&self) -> impl Iterator<Item = &str> {
        self.operations.keys().map(String::as_str)
    }

    /// Whether the model has this operation.
    pub fn has_operation(&self, name: &str) -> bool {
        self.operations.contains_key(name)
    }

    /// The most bytes a valid request body of any operation can take as compact JSON with
    /// UTF-8 text (4 bytes a character at most), so a server can refuse larger bodies unread.
    /// Strings or lists without a modelled maximum count as 64 KiB.
    pub fn max_input_bytes(&self) -> usize {
        self.operations
            .values()
            .flatten()
            .map(|shape| self.max_bytes(shape, 0))
            .max()
            .unwrap_or(0)
    }

    fn max_bytes(&self, shape: &str, depth: usize) -> usize {
        const UNBOUNDED: usize = 64 * 1024;
        if depth > 16 {
            return UNBOUNDED;
        }
        let bound = |max: Option<i64>| max.and_then(|m| usize::try_from(m).ok());
        match self.shapes.get(shape) {
            Some(Shape::Structure { members, .. }) => {
                2 + members
                    .iter()
                    .map(|(name, s)| name.len() + 4 + self.max_bytes(s, depth + 1))
                    .sum::<usize>()
            }
            Some(Shape::List { member, max, .. }) => match bound(*max) {
                Some(n) => 2 + n * (self.max_bytes(member, depth + 1) + 1),
                None => UNBOUNDED,
            },
            Some(Shape::String { max, .. }) => bound(*max).map_or(UNBOUNDED, |n| 2 + 4 * n),
            Some(Shape::Integer { .. }) => 20,
            Some(Shape::Boolean) => 5,
            Some(Shape::Timestamp) | None => 32,
        }
    }

    /// Validates a request body against the operation's input shape.
    pub fn validate_input(&self, operation: &str, body: &Value) -> Result<(), Error> {
        let Some(input) = self.operations.get(operation) else {
            return Err(Error::UnknownOperation(format!(
                "Unknown operation {TARGET_PREFIX}.{operation}"
            )));
        };
        if !body.is_object() {
            return Err(Error::Validation(
                "The request body must be a JSON object".into(),
            ));
        }
        let mut problems = Vec::new();
        if let Some(input) = input {
            self.check(input, body, "", &mut problems);
        }
        Self::report(problems)
    }

    /// Validates a body whose members are model shapes: `(member, shape, required)` — for
    /// hark's own operations, which reuse the model's shapes and its messages.
    pub fn validate_members(
        &self,
        members: &[(&str, &str, bool)],
        body: &Value,
    ) -> Result<(), Error> {
        let mut problems = Vec::new();
        for (member, shape, required) in members {
            let at = lower_camel(member);
            match body.get(*member) {
                None | Some(Value::Null) if *required => problems.push(format!(
                    "Value null at '{at}' failed to satisfy constraint: Member must not be null"
                )),
                None | Some(Value::Null) => {}
                Some(v) => self.check(shape, v, &at, &mut problems),
            }
        }
        Self::report(problems)
    }

    fn report(problems: Vec<String>) -> Result<(), Error> {
        if problems.is_empty() {
            return Ok(());
        }
        let n = problems.len();
        Err(Error::Validation(format!(
            "{n} validation error{} detected: {}",
            if n == 1 { "" } else { "s" },
            problems.join("; ")
        )))
    }

    fn check(&self, shape_name: &str, value: &Value, path: &str, out: &mut Vec<String>) {
        let Some(shape) = self.shapes.get(shape_name) else {
            return;
        };
        let at = |what: &str| format!("Value {what}at '{path}' failed to satisfy constraint: ");
        match shape {
            Shape::Structure { required, members } => {
                let Some(obj) = value.as_object() else {
                    out.push(format!("{}Member must be a structure", at("")));
                    return;
                };
                for (member, target) in members {
                    let child = join(path, &lower_camel(member));
                    match obj.get(member) {
                        None | Some(Value::Null) => {
                            if required.contains(member) {
                                out.push(format!(
                                    "Value null at '{child}' failed to satisfy constraint: Member must not be null"
                                ));
                            }
                        }
                        Some(v) => self.check(target, v, &child, out),
                    }
                }
            }
            Shape::List { member, min, max } => {
                let Some(items) = value.as_array() else {
                    out.push(format!("{}Member must be a list", at("")));
                    return;
                };
                length(items.len(), *min, *max, &at(""), out);
                for (i, item) in items.iter().enumerate() {
                    let child = format!("{path}.{}.member", i + 1);
                    self.check(member, item, &child, out);
                }
            }
            Shape::String {
                min,
                max,
                pattern,
                values,
                sensitive,
            } => {
                let Some(s) = value.as_str() else {
                    out.push(format!("{}Member must be a string", at("")));
                    return;
                };
                let shown = if *sensitive {
                    String::new()
                } else {
                    format!("'{}' ", truncate(s))
                };
                let at = at(&shown);
                length(s.chars().count(), *min, *max, &at, out);
                if let Some((text, re)) = pattern
                    && !re.is_match(s)
                {
                    out.push(format!(
                        "{at}Member must satisfy regular expression pattern: {text}"
                    ));
                }
                if let Some(values) = values
                    && !values.iter().any(|v| v == s)
                {
                    out.push(format!(
                        "{at}Member must satisfy enum value set: [{}]",
                        values.join(", ")
                    ));
                }
            }
            Shape::Integer { min, max } => {
                let Some(n) = value.as_i64() else {
                    out.push(format!("{}Member must be an integer", at("")));
                    return;
                };
                let at = at(&format!("'{n}' "));
                if let Some(min) = min
                    && n < *min
                {
                    out.push(format!(
                        "{at}Member must have value greater than or equal to {min}"
                    ));
                }
                if let Some(max) = max
                    && n > *max
                {
                    out.push(format!(
                        "{at}Member must have value less than or equal to {max}"
                    ));
                }
            }
            Shape::Boolean => {
                if !value.is_boolean() {
                    out.push(format!("{}Member must be a boolean", at("")));
                }
            }
            Shape::Timestamp => {
                if !value.is_number() {
                    out.push(format!("{}Member must be a timestamp", at("")));
                }
            }
        }
    }
}

fn length(n: usize, min: Option<i64>, max: Option<i64>, at: &str, out: &mut Vec<String>) {
    let n = i64::try_from(n).unwrap_or(i64::MAX);
    if let Some(min) = min
        && n < min
    {
        out.push(format!(
            "{at}Member must have length greater than or equal to {min}"
        ));
    }
    if let Some(max) = max
        && n > max
    {
        out.push(format!(
            "{at}Member must have length less than or equal to {max}"
        ));
    }
}

fn truncate(s: &str) -> String {
    if s.chars().count() <= 64 {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(64).collect::<String>())
    }
}

fn join(path: &str, member: &str) -> String {
    if path.is_empty() {
        member.to_owned()
    } else {
        format!("{path}.{member}")
    }
}

/// `DomainId` → `domainId`, as AWS names members in validation messages.
fn lower_camel(member: &str) -> String {
    let mut chars = member.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_largest_valid_request_is_bounded() {
        let max = model().max_input_bytes();
        // CreateDomain with 200 tags of 128 + 256 characters (4 bytes each) is the largest.
        assert!((300_000..400_000).contains(&max), "{max}");
    }

    use super::*;
    use serde_json::json;

    fn err(op: &str, body: Value) -> String {
        model().validate_input(op, &body).unwrap_err().to_string()
    }

    #[test]
    fn the_embedded_model_is_botocores() {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(MODEL_JSON.as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "780083e7e65da4635fdf81a69938f8bba913103347223a21b0ff8105f879fa54"
        );
        assert_eq!(model().operation_names().count(), 29);
    }

    #[test]
    fn every_constraint_kind_is_enforced_with_aws_messages() {
        let ok =
            json!({"Name": "demo", "ServerSideEncryptionConfiguration": {"KmsKeyId": "alias/x"}});
        model().validate_input("CreateDomain", &ok).unwrap();
        assert_eq!(
            err("CreateDomain", json!({})),
            "2 validation errors detected: Value null at 'name' failed to satisfy constraint: Member must not be null; Value null at 'serverSideEncryptionConfiguration' failed to satisfy constraint: Member must not be null"
        );
        let e = err(
            "CreateDomain",
            json!({"Name": "bad!", "ServerSideEncryptionConfiguration": {"KmsKeyId": ""}}),
        );
        assert!(e.starts_with("2 validation errors detected"), "{e}");
        assert!(
            e.contains("Value at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9][a-zA-Z0-9_-]*$"),
            "sensitive values are not echoed: {e}"
        );
        assert!(e.contains("Value '' at 'serverSideEncryptionConfiguration.kmsKeyId' failed to satisfy constraint: Member must have length greater than or equal to 1"), "{e}");
        let e = err("DescribeDomain", json!({"DomainId": "x".repeat(23)}));
        assert!(e.contains("less than or equal to 22"), "{e}");
        let e = err(
            "ListSpeakers",
            json!({"DomainId": "a".repeat(22), "MaxResults": 101}),
        );
        assert!(
            e.contains("Value '101' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 100"),
            "{e}"
        );
        let e = err("ListDomains", json!({"MaxResults": 11}));
        assert!(e.contains("less than or equal to 10"), "{e}");
        let e = err(
            "ListSpeakerEnrollmentJobs",
            json!({"DomainId": "a".repeat(22), "JobStatus": "BOGUS"}),
        );
        assert!(
            e.contains("Member must satisfy enum value set: [SUBMITTED, IN_PROGRESS, COMPLETED, COMPLETED_WITH_ERRORS, FAILED]"),
            "{e}"
        );
        let tags: Vec<Value> = (0..201)
            .map(|i| json!({"Key": format!("k{i}"), "Value": "v"}))
            .collect();
        let e = err(
            "TagResource",
            json!({"ResourceArn": format!("arn:aws:voiceid:us-east-1:000000000000:domain/{}", "a".repeat(22)), "Tags": tags}),
        );
        assert!(e.contains("at 'tags' failed to satisfy constraint: Member must have length less than or equal to 200"), "{e}");
        let e = err(
            "TagResource",
            json!({"ResourceArn": "arn:nope", "Tags": [{"Key": "k"}]}),
        );
        assert!(e.contains("'resourceArn'"), "{e}");
        assert!(e.contains("Value null at 'tags.1.member.value'"), "{e}");
        let e = err("ListDomains", json!({"NextToken": "é"}));
        assert!(
            e.contains("regular expression pattern: ^\\p{ASCII}{0,8192}$"),
            "{e}"
        );
        let e = err("ListDomains", json!({"NextToken": "a".repeat(8193)}));
        assert!(e.contains("less than or equal to 8192"), "{e}");
        model()
            .validate_input("ListDomains", &json!({"NextToken": "a".repeat(8192)}))
            .unwrap();
        let e = err("ListDomains", json!({"MaxResults": "5"}));
        assert!(e.contains("must be an integer"), "{e}");
        let e = err(
            "DescribeSpeaker",
            json!({"DomainId": "a".repeat(22), "SpeakerId": "id#short"}),
        );
        assert!(e.contains("regular expression"), "{e}");
        model()
            .validate_input(
                "DescribeSpeaker",
                &json!({"DomainId": "a".repeat(22), "SpeakerId": format!("id#{}", "b".repeat(22))}),
            )
            .unwrap();
        let e = err(
            "CreateDomain",
            json!({"Name": "ok", "Description": "Grüße 12 a_b.c:/=+-%@", "ServerSideEncryptionConfiguration": {"KmsKeyId": "k"}, "ClientToken": "has space"}),
        );
        assert!(e.starts_with("1 validation error detected"), "{e}");
        assert!(e.contains("'clientToken'"), "{e}");
        assert!(matches!(
            model().validate_input("NoSuchThing", &json!({})),
            Err(Error::UnknownOperation(_))
        ));
        assert!(matches!(
            model().validate_input("ListDomains", &json!([])),
            Err(Error::Validation(_))
        ));
    }
}
