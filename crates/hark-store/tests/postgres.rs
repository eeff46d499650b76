//! The store conformance suites on a real PostgreSQL (a private server from Debian's
//! `postgresql` package; see `hark-pgtest`), the same suites SQLite passes in `src/`.

use std::time::Duration;

use hark_pgtest::PgServer;
use hark_recording::store::RecordingStore;
use hark_store::PgStore;
use hark_store::postgres::{ClusterCall, ClusterInstance};
use hark_voiceid::records::{BlobKey, BlobKind, SealedBlob};
use hark_voiceid::store::VoiceIdStore;

#[test]
fn every_store_suite_passes_on_postgres_and_data_persists() {
    let pg = PgServer::start();
    let url = pg.database("suites");
    let store = PgStore::connect(&url).unwrap();
    assert_eq!(
        store.schema_version().unwrap(),
        hark_store::postgres::POSTGRES_MIGRATIONS.len() as i64
    );
    hark_recording::store::conformance::run(&store);
    hark_monitor::store::conformance::run(&store);
    hark_voiceid::store::conformance::run(&store);
    drop(store);
    // Reconnected: everything is still there and migrations are not re-applied.
    let again = PgStore::connect(&url).unwrap();
    assert_eq!(again.do_not_record_latches().unwrap().len(), 2);
    assert_eq!(again.recordings().unwrap().len(), 2);
    assert_eq!(again.count_live_domains().unwrap(), 1);
    // Stored audio is a row (instances share no disk) and purge leaves nothing of it.
    let (d, w) = hark_voiceid::store::conformance::domain("A000000000000000000000");
    again.insert_domain(&d, &w).unwrap();
    let key = BlobKey {
        domain_id: d.domain_id.clone(),
        owner_id: "speaker".into(),
        kind: BlobKind::Audio("session".into()),
    };
    let blob = SealedBlob {
        key_id: "k".into(),
        sealed: vec![0, 1, 2, 255],
    };
    again.put_blob(&key, &blob).unwrap();
    assert_eq!(again.blob(&key).unwrap(), Some(blob));
    again.purge_domain(&d.domain_id).unwrap();
    assert_eq!(again.blob(&key).unwrap(), None);
}

/// The traits are synchronous and hark calls them from tokio tasks: on a runtime thread the
/// `postgres` client must not try to start its runtime inside ours (that panics).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_from_runtime_threads_do_not_panic() {
    let pg = PgServer::start();
    let url = pg.database("runtime");
    let store = std::sync::Arc::new(PgStore::connect(&url).unwrap());
    let mut tasks = Vec::new();
    for n in 0..16 {
        let store = std::sync::Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let at = chrono::Utc::now();
            store.latch_do_not_record(&format!("c{n}"), at).unwrap();
            store.do_not_record_latches().unwrap().len()
        }));
    }
    for t in tasks {
        assert!(t.await.unwrap() >= 1);
    }
    assert_eq!(store.do_not_record_latches().unwrap().len(), 16);
    let lock = store
        .try_fleet_lock("test", Duration::ZERO)
        .unwrap()
        .expect("free lock");
    drop(lock);
}

/// On a current-thread runtime (no `block_in_place` there) calls go through a scoped thread,
/// and so does dropping the store.
#[tokio::test(flavor = "current_thread")]
async fn calls_from_a_current_thread_runtime_do_not_panic() {
    let pg = PgServer::start();
    let store = PgStore::connect(&pg.database("current")).unwrap();
    store.latch_do_not_record("c", chrono::Utc::now()).unwrap();
    assert_eq!(store.do_not_record_latches().unwrap().len(), 1);
    let inside = tokio::task::spawn_blocking(move || {
        let n = store.do_not_record_latches().unwrap().len();
        (store, n)
    })
    .await
    .unwrap();
    assert_eq!(inside.1, 1);
}

#[test]
fn a_new_schema_is_refused_and_migrations_run_once_when_instances_start_together() {
    let pg = PgServer::start();
    let url = pg.database("migrate");
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || PgStore::connect(&url).map(|s| s.schema_version()))
        })
        .collect();
    for h in handles {
        assert_eq!(
            h.join().unwrap().unwrap().unwrap(),
            hark_store::postgres::POSTGRES_MIGRATIONS.len() as i64
        );
    }
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    client
        .execute("INSERT INTO hark_schema (version) VALUES (99)", &[])
        .unwrap();
    let e = PgStore::connect(&url).unwrap_err();
    assert!(e.to_string().contains("newer than this hark"), "{e}");
}

#[test]
fn instances_calls_and_fleet_locks() {
    let pg = PgServer::start();
    let store = PgStore::connect(&pg.database("cluster")).unwrap();
    let instance = |id: &str| ClusterInstance {
        instance_id: id.into(),
        address: "127.0.0.1:1".into(),
        data_dir: format!("/data/{id}"),
        started_at: 1,
        heartbeat_at: 0,
    };
    store.register_instance(&instance("a")).unwrap();
    store.register_instance(&instance("b")).unwrap();
    let live = store.live_instances(Duration::from_secs(60)).unwrap();
    assert_eq!(live.len(), 2);
    assert_eq!(live[1].data_dir, "/data/b");
    assert!(
        store
            .dead_instances(Duration::from_secs(60))
            .unwrap()
            .is_empty()
    );
    let call = ClusterCall {
        call_id: "leg-1".into(),
        contact_id: "contact-1".into(),
        instance_id: "b".into(),
        started_at: 5,
    };
    store.register_call(&call).unwrap();
    assert_eq!(store.cluster_calls().unwrap(), vec![call.clone()]);
    assert!(store.heartbeat("b").unwrap());
    assert_eq!(store.remove_instance("b").unwrap(), vec![call]);
    assert!(!store.heartbeat("b").unwrap());
    assert!(store.cluster_calls().unwrap().is_empty());

    // One holder at a time; a sweep that just ran is not due again within its interval.
    let hour = Duration::from_secs(3600);
    let held = store.try_fleet_lock("purge", hour).unwrap().expect("first");
    assert!(
        store
            .try_fleet_lock("purge", Duration::ZERO)
            .unwrap()
            .is_none()
    );
    drop(held);
    assert!(store.try_fleet_lock("purge", hour).unwrap().is_none());
    assert!(
        store
            .try_fleet_lock("purge", Duration::ZERO)
            .unwrap()
            .is_some()
    );
}

/// Voice ID's quota checks and client-token replays read, then write: across instances they
/// run under one fleet-wide lock. Read-then-write increments from two stores (two instances)
/// on eight threads lose no update.
#[test]
fn exclusive_sections_serialise_read_then_write_across_instances() {
    let pg = PgServer::start();
    let url = pg.database("exclusive");
    let stores = [
        std::sync::Arc::new(PgStore::connect(&url).unwrap()),
        std::sync::Arc::new(PgStore::connect(&url).unwrap()),
    ];
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    client
        .batch_execute("CREATE TABLE counter (n BIGINT NOT NULL); INSERT INTO counter VALUES (0)")
        .unwrap();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let store = std::sync::Arc::clone(&stores[t % 2]);
            let url = url.clone();
            std::thread::spawn(move || {
                let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
                for _ in 0..25 {
                    let _section = store.lock_exclusive("voiceid-writes").unwrap();
                    let n: i64 = c.query_one("SELECT n FROM counter", &[]).unwrap().get(0);
                    c.execute("UPDATE counter SET n = $1", &[&(n + 1)]).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let n: i64 = client
        .query_one("SELECT n FROM counter", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 200);
}

#[test]
fn a_monitor_stored_before_custom_config_migrates_and_can_gain_one() {
    use hark_monitor::MonitorStore;
    let pg = PgServer::start();
    let url = pg.database("custom_config");
    // The schema as hark left it before migration 4, with an integration in it.
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    client
        .batch_execute(
            "CREATE TABLE hark_schema (version BIGINT PRIMARY KEY,
                 applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
        )
        .unwrap();
    for (version, sql) in &hark_store::postgres::POSTGRES_MIGRATIONS[..3] {
        client.batch_execute(sql).unwrap();
        client
            .execute("INSERT INTO hark_schema (version) VALUES ($1)", &[version])
            .unwrap();
    }
    let old = r#"{"name":"a","uri":"ws://127.0.0.1:9/ws","apiKey":"k","enabled":true}"#;
    client
        .execute(
            "INSERT INTO monitors (name, integration) VALUES ('a', $1)",
            &[&old],
        )
        .unwrap();
    let store = PgStore::connect(&url).unwrap();
    assert_eq!(store.schema_version().unwrap(), 4);
    let mut monitor = store.monitors().unwrap().remove(0);
    assert_eq!(
        (monitor.name.as_str(), &monitor.custom_config),
        ("a", &None)
    );
    monitor.custom_config = serde_json::json!({"agentassist": true, "kb": {"ids": [1, 2]}})
        .as_object()
        .cloned();
    store.put_monitor(&monitor).unwrap();
    drop(store);
    let again = PgStore::connect(&url).unwrap();
    assert_eq!(again.monitors().unwrap(), vec![monitor]);
    let row = client
        .query_one("SELECT integration, custom_config FROM monitors", &[])
        .unwrap();
    let (document, column): (&str, &str) = (row.get(0), row.get(1));
    assert_eq!(column, r#"{"agentassist":true,"kb":{"ids":[1,2]}}"#);
    assert!(!document.contains("customConfig"), "{document}");
}

#[test]
fn tls_is_used_when_the_url_asks_for_it_and_the_server_is_verified() {
    let pg = PgServer::start_tls();
    let plain_url = pg.database("tls");
    let url = format!("{plain_url}?sslmode=require");
    let ca = pg.tls_ca().unwrap();

    let store = PgStore::connect_verified(&url, 2, Some(ca)).unwrap();
    assert!(
        store.is_encrypted().unwrap(),
        "sslmode=require connects over TLS"
    );
    hark_recording::store::conformance::run(&store);
    // The LISTEN connection goes over TLS too.
    store.dedicated_connection().unwrap();

    // A server whose certificate no trusted CA signed is refused, not used unverified.
    let e = PgStore::connect_with(&url, 1).unwrap_err().to_string();
    assert!(
        e.contains("certificate") || e.contains("UnknownIssuer"),
        "{e}"
    );
    // A CA file without a certificate is an error of its own.
    let e = PgStore::connect_verified(&url, 1, Some(b"not a pem")).unwrap_err();
    assert!(e.to_string().contains("CA file"), "{e}");
    // Without sslmode the same server is reached in the clear, as before.
    let plain = PgStore::connect(&plain_url).unwrap();
    assert!(!plain.is_encrypted().unwrap());
}
