//! A Voice ID client for tests: the AWS JSON protocol, SigV4-signed, one connection per call.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

use hark_voiceid::sigv4::{self, SignedRequest};

/// The region requests are signed for (hark accepts any).
const REGION: &str = "us-east-1";

/// A Voice ID call that did not succeed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VoiceIdError {
    /// hark answered with an AWS error (`x-amzn-ErrorType`, `message`).
    #[error("{status} {error_type}: {message}")]
    Service {
        /// The HTTP status.
        status: u16,
        /// The AWS error code, e.g. `ValidationException`.
        error_type: String,
        /// The error's message.
        message: String,
    },
    /// The request could not be made or the answer read.
    #[error("Voice ID request failed: {0}")]
    Transport(String),
    /// What a helper waited for did not happen: a session that never ended, a job that failed,
    /// an enrolment that did not complete.
    #[error("Voice ID: {0}")]
    Outcome(String),
}

/// Calls hark's Voice ID API as the AWS SDKs do, with a test hark's access keys.
#[derive(Clone, Debug)]
pub struct VoiceIdClient {
    addr: SocketAddr,
    access_key_id: String,
    secret_access_key: String,
}

impl VoiceIdClient {
    /// A client of the Voice ID API at `addr`, signing with the given access key pair.
    pub fn new(addr: SocketAddr, access_key_id: &str, secret_access_key: &str) -> Self {
        VoiceIdClient {
            addr,
            access_key_id: access_key_id.to_owned(),
            secret_access_key: secret_access_key.to_owned(),
        }
    }

    /// Calls `operation` (`CreateDomain`, `DescribeSpeaker`, …; hark's own additions as
    /// `HarkVoiceID.Op`) with a JSON `input`; the JSON output, or the AWS error.
    pub async fn call(&self, operation: &str, input: &Value) -> Result<Value, VoiceIdError> {
        let target = if operation.contains('.') {
            operation.to_owned()
        } else {
            format!("VoiceID.{operation}")
        };
        let body = input.to_string();
        let date = sigv4::amz_date(chrono::Utc::now());
        let mut headers = vec![
            ("host".to_owned(), self.addr.to_string()),
            ("x-amz-date".to_owned(), date.clone()),
            ("x-amz-target".to_owned(), target),
            (
                "content-type".to_owned(),
                "application/x-amz-json-1.0".to_owned(),
            ),
        ];
        let signed = SignedRequest {
            method: "POST",
            path: "/",
            query: "",
            headers: &headers,
            body: body.as_bytes(),
        };
        let authorization = sigv4::sign(
            &signed,
            &self.access_key_id,
            &self.secret_access_key,
            REGION,
            &date,
        );
        headers.push(("authorization".to_owned(), authorization));
        let (status, error_type, text) = self.post(&headers, body).await?;
        let value: Value = serde_json::from_slice(&text).unwrap_or(Value::Null);
        if status == 200 {
            return Ok(value);
        }
        Err(VoiceIdError::Service {
            status,
            error_type: error_type.unwrap_or_else(|| "UnknownError".to_owned()),
            message: value["message"]
                .as_str()
                .or(value["Message"].as_str())
                .unwrap_or_default()
                .to_owned(),
        })
    }

    /// One HTTP/1.1 POST: status, `x-amzn-ErrorType` (without its `:…` suffix), body.
    async fn post(
        &self,
        headers: &[(String, String)],
        body: String,
    ) -> Result<(u16, Option<String>, Bytes), VoiceIdError> {
        let fail = |e: &dyn std::fmt::Display| VoiceIdError::Transport(e.to_string());
        let stream = tokio::net::TcpStream::connect(self.addr)
            .await
            .map_err(|e| fail(&e))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| fail(&e))?;
        tokio::spawn(connection);
        let mut request = http::Request::post("/");
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| fail(&e))?;
        let response = sender.send_request(request).await.map_err(|e| fail(&e))?;
        let status = response.status().as_u16();
        let error_type = response
            .headers()
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(':').next().unwrap_or(v).to_owned());
        let text = response
            .into_body()
            .collect()
            .await
            .map_err(|e| fail(&e))?
            .to_bytes();
        Ok((status, error_type, text))
    }

    /// Creates a domain named `name` (encrypted with hark's default key); its id.
    pub async fn create_domain(&self, name: &str) -> Result<String, VoiceIdError> {
        let created = self
            .call(
                "CreateDomain",
                &json!({
                    "Name": name,
                    "ServerSideEncryptionConfiguration": {
                        "KmsKeyId": hark_voiceid::crypto::DEFAULT_KEY_ID
                    },
                }),
            )
            .await?;
        created["Domain"]["DomainId"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| VoiceIdError::Transport(format!("CreateDomain answered {created}")))
    }
}
