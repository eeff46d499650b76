//! Voice ID on the embedded store: requests per second and latency percentiles of
//! DescribeSpeaker and ListSpeakers over HTTP, SigV4-signed, against an in-process `hark serve`
//! whose domain holds 1 000 000 speakers.
//!
//! `cargo bench -p hark --bench voiceid [-- SPEAKERS SECONDS CONNECTIONS] [--postgres]`
//! (defaults 1000000 10 4). The seeded data directory is kept under the target directory and
//! reused by later runs with the same speaker count. With `--postgres` the service runs on a
//! private PostgreSQL (see `hark-pgtest`), seeded afresh on every run.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use hark::config::{Config, LogFormat, VoiceIdConfig};
use hark::server::Server;
use hark_store::{PgStore, SqliteStore};
use hark_voiceid::VoiceIdStore;
use hark_voiceid::records::{SpeakerRecord, SpeakerStatus};
use hark_voiceid::sigv4::{self, SignedRequest};
use hark_voiceid::token::TokenSigner;
use hark_voiceid::{Settings, SystemClock, VoiceId};

struct Seeded {
    domain_id: String,
    generated: Vec<String>,
    customers: Vec<String>,
}

fn rng(state: &mut u64) -> u64 {
    // xorshift64*: deterministic, good enough for picking ids and making them up.
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

fn alnum(state: &mut u64, n: usize) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..n)
        .map(|_| char::from(A[(rng(state) % 62) as usize]))
        .collect()
}

/// Inserts a batch of speakers in one transaction.
type BulkInsert = Box<dyn Fn(&[SpeakerRecord])>;

fn seed(data_dir: &Path, speakers: usize, database_url: Option<&str>) -> Seeded {
    let marker = data_dir.join(format!("seeded-{speakers}.json"));
    if let Ok(text) = std::fs::read_to_string(&marker)
        && database_url.is_none()
    {
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let list = |k: &str| -> Vec<String> {
            v[k].as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_str().unwrap().to_owned())
                .collect()
        };
        return Seeded {
            domain_id: v["domain_id"].as_str().unwrap().to_owned(),
            generated: list("generated"),
            customers: list("customers"),
        };
    }
    let _ = std::fs::remove_dir_all(data_dir);
    std::fs::create_dir_all(data_dir).unwrap();
    hark::credentials::load_or_generate(data_dir).unwrap();
    let (keyring, secret, _) =
        hark::app::voiceid::load_keyring(data_dir, &VoiceIdConfig::default(), true).unwrap();
    let (store, insert): (Arc<dyn VoiceIdStore>, BulkInsert) = match database_url {
        Some(url) => {
            let pg = Arc::new(PgStore::connect(url).unwrap());
            let bulk = Arc::clone(&pg);
            (pg, Box::new(move |b| bulk.insert_speakers(b).unwrap()))
        }
        None => {
            let sqlite = Arc::new(SqliteStore::open(&data_dir.join("hark.db")).unwrap());
            let bulk = Arc::clone(&sqlite);
            (sqlite, Box::new(move |b| bulk.insert_speakers(b).unwrap()))
        }
    };
    let mut settings = Settings::default();
    settings.quotas.speakers_per_domain = u64::MAX;
    let svc = VoiceId::new(
        store.clone(),
        Arc::new(SystemClock),
        keyring,
        &secret,
        settings,
    );
    let domain = svc
        .handle(
            "VoiceID.CreateDomain",
            br#"{"Name":"bench","ServerSideEncryptionConfiguration":{"KmsKeyId":"alias/hark-default"}}"#,
        )
        .unwrap();
    let domain_id = domain["Domain"]["DomainId"].as_str().unwrap().to_owned();
    let started = Instant::now();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let now = Utc::now();
    let (mut generated, mut customers) = (Vec::new(), Vec::new());
    let mut batch = Vec::with_capacity(100_000);
    for i in 0..speakers {
        let s = SpeakerRecord {
            domain_id: domain_id.clone(),
            generated_id: format!("id#{}", alnum(&mut state, 22)),
            customer_id: Some(format!("customer-{i:08}")),
            status: SpeakerStatus::Enrolled,
            created_at: now,
            updated_at: now,
            last_accessed_at: Some(now),
        };
        if i % 100 == 0 {
            generated.push(s.generated_id.clone());
            customers.push(s.customer_id.clone().unwrap());
        }
        batch.push(s);
        if batch.len() == 100_000 {
            insert(&batch);
            batch.clear();
        }
    }
    insert(&batch);
    eprintln!(
        "seeded {speakers} speakers in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    std::fs::write(
        &marker,
        serde_json::json!({"domain_id": domain_id, "generated": generated, "customers": customers})
            .to_string(),
    )
    .unwrap();
    Seeded {
        domain_id,
        generated,
        customers,
    }
}

/// One signed HTTP request, ready to write.
fn signed(addr: SocketAddr, key: &str, secret: &str, target: &str, body: &str) -> Vec<u8> {
    let date = sigv4::amz_date(Utc::now());
    let headers = vec![
        ("host".to_owned(), addr.to_string()),
        ("x-amz-date".to_owned(), date.clone()),
        ("x-amz-target".to_owned(), target.to_owned()),
        (
            "content-type".to_owned(),
            "application/x-amz-json-1.0".to_owned(),
        ),
    ];
    let auth = sigv4::sign(
        &SignedRequest {
            method: "POST",
            path: "/",
            query: "",
            headers: &headers,
            body: body.as_bytes(),
        },
        key,
        secret,
        "us-east-1",
        &date,
    );
    let mut out = String::from("POST / HTTP/1.1\r\n");
    for (k, v) in &headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str(&format!(
        "authorization: {auth}\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    ));
    out.into_bytes()
}

fn exchange(reader: &mut BufReader<TcpStream>, request: &[u8]) -> u16 {
    reader.get_mut().write_all(request).unwrap();
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let status: u16 = line[9..12].parse().unwrap();
    let mut length = 0usize;
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    status
}

struct Outcome {
    requests: usize,
    seconds: f64,
    latencies: Vec<Duration>,
}

fn run(addr: SocketAddr, pool: Arc<Vec<Vec<u8>>>, connections: usize, seconds: u64) -> Outcome {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let threads: Vec<_> = (0..connections)
        .map(|c| {
            let pool = Arc::clone(&pool);
            std::thread::spawn(move || {
                let mut reader = BufReader::new(TcpStream::connect(addr).unwrap());
                reader.get_ref().set_nodelay(true).unwrap();
                let mut latencies = Vec::new();
                let mut i = c * 7919;
                while Instant::now() < deadline {
                    let request = &pool[i % pool.len()];
                    i += 1;
                    let t = Instant::now();
                    let status = exchange(&mut reader, request);
                    latencies.push(t.elapsed());
                    assert_eq!(status, 200);
                }
                latencies
            })
        })
        .collect();
    let mut latencies: Vec<Duration> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    latencies.sort();
    Outcome {
        requests: latencies.len(),
        seconds: started.elapsed().as_secs_f64(),
        latencies,
    }
}

fn report(name: &str, o: &Outcome) {
    let pct = |p: f64| {
        let i = ((o.latencies.len() as f64 * p).ceil() as usize).clamp(1, o.latencies.len()) - 1;
        o.latencies[i].as_secs_f64() * 1000.0
    };
    println!(
        "{name:<40} {:>8.0} req/s   p50 {:>6.2} ms   p99 {:>6.2} ms   max {:>6.2} ms   ({} requests)",
        o.requests as f64 / o.seconds,
        pct(0.50),
        pct(0.99),
        pct(1.0),
        o.requests
    );
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let arg =
        |i: usize, default: usize| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let (speakers, seconds, connections) = (arg(0, 1_000_000), arg(1, 10) as u64, arg(2, 4));
    let postgres = std::env::args()
        .any(|a| a == "--postgres")
        .then(hark_pgtest::PgServer::start);
    let database_url = postgres.as_ref().map(|pg| pg.database("bench"));
    let data_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(match database_url {
        Some(_) => "voiceid-bench-pg",
        None => "voiceid-bench-data",
    });
    let seeded = seed(&data_dir, speakers, database_url.as_deref());

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data_dir.clone(),
        log_format: LogFormat::Text,
        log_level: "warn".into(),
        audiohook_credentials: vec![],
        recording: Default::default(),
        monitor: Default::default(),
        voiceid: VoiceIdConfig {
            quotas: hark::config::VoiceIdQuotas {
                speakers_per_domain: u64::MAX,
                ..Default::default()
            },
            ..Default::default()
        },
        database_url: database_url.clone(),
        database_ca_file: None,
        http: hark::config::HttpConfig::default(),
        admin: Default::default(),
        drain_seconds: 300,
    };
    let server = runtime.block_on(Server::bind(config)).unwrap();
    let addr = server.local_addr();
    let key = server.credentials().voiceid.access_key_id.clone();
    let secret = server
        .credentials()
        .voiceid
        .secret_access_key
        .expose()
        .to_owned();
    runtime.spawn(server.run(std::future::pending()));

    let d = &seeded.domain_id;
    println!(
        "Voice ID, {} store, {speakers} speakers in one domain, {connections} keep-alive connections, {seconds} s per run",
        if database_url.is_some() {
            "PostgreSQL"
        } else {
            "embedded SQLite"
        }
    );
    let describe_customer: Vec<Vec<u8>> = seeded
        .customers
        .iter()
        .map(|c| {
            let body = format!(r#"{{"DomainId":"{d}","SpeakerId":"{c}"}}"#);
            signed(addr, &key, &secret, "VoiceID.DescribeSpeaker", &body)
        })
        .collect();
    let describe_generated: Vec<Vec<u8>> = seeded
        .generated
        .iter()
        .map(|g| {
            let body = format!(r#"{{"DomainId":"{d}","SpeakerId":"{g}"}}"#);
            signed(addr, &key, &secret, "VoiceID.DescribeSpeaker", &body)
        })
        .collect();
    // Page tokens at random positions, minted with the service's own token secret.
    let (_, token_secret, _) =
        hark::app::voiceid::load_keyring(&data_dir, &VoiceIdConfig::default(), false).unwrap();
    let signer = TokenSigner::new(&token_secret);
    let list_pages: Vec<Vec<u8>> = seeded
        .generated
        .iter()
        .take(2000)
        .map(|cursor| {
            let token = signer
                .issue("ListSpeakers", &[d], cursor, Utc::now())
                .unwrap();
            let body = format!(r#"{{"DomainId":"{d}","MaxResults":100,"NextToken":"{token}"}}"#);
            signed(addr, &key, &secret, "VoiceID.ListSpeakers", &body)
        })
        .collect();
    let list_first = vec![signed(
        addr,
        &key,
        &secret,
        "VoiceID.ListSpeakers",
        &format!(r#"{{"DomainId":"{d}","MaxResults":100}}"#),
    )];
    // Warm up the page cache and connections.
    run(addr, Arc::new(describe_customer.clone()), connections, 1);
    for (name, pool) in [
        ("DescribeSpeaker (CustomerSpeakerId)", describe_customer),
        ("DescribeSpeaker (GeneratedSpeakerId)", describe_generated),
        ("ListSpeakers (100 per page, from start)", list_first),
        ("ListSpeakers (100 per page, random page)", list_pages),
    ] {
        let outcome = run(addr, Arc::new(pool), connections, seconds);
        report(name, &outcome);
    }
}
