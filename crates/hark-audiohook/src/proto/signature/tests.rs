//! The spec's two test vectors and every verification rule.

use super::*;

const API_KEY: &str = "SGVsbG8sIEkgYW0gdGhlIEFQSSBrZXkh";
const SECRET: &str = "TXlTdXBlclNlY3JldEtleVRlbGxOby0xITJAMyM0JDU=";
const NONCE: &str = "VGhpc0lzQVVuaXF1ZU5vbmNl";
const CREATED: u64 = 1_641_013_200;
const EXPIRES: u64 = 3_282_026_430;
const VECTOR1_INPUT: &str = r#"sig1=("@request-target" "@authority" "audiohook-organization-id" "audiohook-session-id" "audiohook-correlation-id" "x-api-key");keyid="SGVsbG8sIEkgYW0gdGhlIEFQSSBrZXkh";nonce="VGhpc0lzQVVuaXF1ZU5vbmNl";alg="hmac-sha256";created=1641013200;expires=3282026430"#;
const VECTOR1_SIGNATURE: &str = "sig1=:NZBwyBHRRyRoeLqy1IzOa9VYBuI8TgMFt2GRDkDuJh4=:";

fn request() -> CoveredRequest {
    CoveredRequest {
        method: "GET".into(),
        scheme: "https".into(),
        authority: "audiohook.example.com".into(),
        request_target: "/api/v1/voicebiometrics/ws".into(),
        headers: vec![
            ("Host".into(), "audiohook.example.com".into()),
            (
                "Audiohook-Organization-Id".into(),
                "d7934305-0972-4844-938e-9060eef73d05".into(),
            ),
            (
                "Audiohook-Correlation-Id".into(),
                "e160e428-53e2-487c-977d-96989bf5c99d".into(),
            ),
            (
                "Audiohook-Session-Id".into(),
                "30b0e395-84d3-4570-ac13-9a62d8f514c0".into(),
            ),
            ("X-API-KEY".into(), API_KEY.into()),
        ],
    }
}

fn signed(input: &str, signature: &str) -> CoveredRequest {
    let mut r = request();
    r.headers.push(("signature-input".into(), input.into()));
    r.headers.push(("signature".into(), signature.into()));
    r
}

fn keyring() -> ApiKeys {
    let mut k = ApiKeys::default();
    k.insert(API_KEY, Some(SECRET)).unwrap();
    k.insert("open-key", None).unwrap();
    k
}

fn params(created: u64, expires: u64, nonce: &str) -> SignatureParams {
    SignatureParams {
        key_id: API_KEY.into(),
        nonce: nonce.into(),
        created,
        expires,
    }
}

fn secret() -> Vec<u8> {
    STANDARD.decode(SECRET).unwrap()
}

/// A fresh, valid signature at `now`.
fn fresh(now: u64, nonce: &str) -> CoveredRequest {
    let h = sign(&request(), &secret(), &params(now, now + 30, nonce)).unwrap();
    signed(&h.signature_input, &h.signature)
}

#[test]
fn vector1_base_is_byte_exact() {
    let dict = sfv::parse_dictionary(VECTOR1_INPUT).unwrap();
    let Member::InnerList { items, params } = &dict[0].1 else {
        panic!()
    };
    let base = signature_base(&request(), items, params).unwrap();
    assert_eq!(base.len(), 593);
    assert!(base.starts_with(
        "\"@request-target\": /api/v1/voicebiometrics/ws\n\"@authority\": audiohook.example.com\n"
    ));
    assert!(!base.ends_with('\n'));
    use sha2::Digest;
    let digest = Sha256::digest(base.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        hex,
        "6fc7f72e95dddd7420441f42fb08c533151f55c9d4603a3632cdebb4488afd5f"
    );
}

#[test]
fn vector1_verifies_and_the_signer_reproduces_it() {
    let mut nonces = NonceCache::default();
    let r = signed(VECTOR1_INPUT, VECTOR1_SIGNATURE);
    assert_eq!(
        verify(&r, &keyring(), &mut nonces, CREATED + 1).unwrap(),
        API_KEY
    );
    let h = sign(&request(), &secret(), &params(CREATED, EXPIRES, NONCE)).unwrap();
    assert_eq!(h.signature_input, VECTOR1_INPUT);
    assert_eq!(h.signature, VECTOR1_SIGNATURE);
}

#[test]
fn vector2_host_component() {
    let input = VECTOR1_INPUT.replace("\"@authority\"", "\"host\"");
    let dict = sfv::parse_dictionary(&input).unwrap();
    let Member::InnerList { items, params } = &dict[0].1 else {
        panic!()
    };
    let base = signature_base(&request(), items, params).unwrap();
    assert!(base.contains("\n\"host\": audiohook.example.com\n"));
    assert_eq!(
        STANDARD.encode(hmac(&secret(), base.as_bytes())),
        "zupMJUMfd/kMuvKc5zhRyfJPE3jTROuz1S1hn8SCTpE="
    );
    // Genesys always covers @authority, and so must every request we accept.
    let r = signed(
        &input,
        "sig1=:zupMJUMfd/kMuvKc5zhRyfJPE3jTROuz1S1hn8SCTpE=:",
    );
    assert_eq!(
        verify(&r, &keyring(), &mut NonceCache::default(), CREATED + 1),
        Err(AuthError::MissingComponent("@authority"))
    );
}

#[test]
fn freshness_window_with_clock_skew() {
    let now = 1_800_000_000;
    let keys = keyring();
    let check = |created: u64, expires: u64| {
        let h = sign(
            &request(),
            &secret(),
            &params(
                created,
                expires,
                &format!("nonce-{created}-{expires}-padding"),
            ),
        )
        .unwrap();
        verify(
            &signed(&h.signature_input, &h.signature),
            &keys,
            &mut NonceCache::default(),
            now,
        )
    };
    assert!(check(now, now + 30).is_ok());
    assert!(check(now + 3, now + 30).is_ok(), "3 s of skew allowed");
    assert_eq!(check(now + 4, now + 30), Err(AuthError::NotYetValid));
    assert!(check(now - 7, now + 30).is_ok());
    assert_eq!(check(now - 8, now + 30), Err(AuthError::TooOld));
    assert!(check(now, now + 3).is_ok());
    assert_eq!(check(now, now + 2), Err(AuthError::Expired));
}

#[test]
fn replayed_nonce_is_refused_until_the_signature_could_no_longer_be_fresh() {
    let now = 1_800_000_000;
    let keys = keyring();
    let mut nonces = NonceCache::default();
    let r = fresh(now, "AAAAAAAAAAAAAAAAAAAAAAAA");
    assert!(verify(&r, &keys, &mut nonces, now).is_ok());
    assert_eq!(
        verify(&r, &keys, &mut nonces, now + 1),
        Err(AuthError::ReplayedNonce)
    );
    // A new signature may reuse the nonce once the old one has aged out of the window.
    assert!(
        verify(
            &fresh(now + 20, "AAAAAAAAAAAAAAAAAAAAAAAA"),
            &keys,
            &mut nonces,
            now + 20
        )
        .is_ok()
    );
    // A forged request must not burn the nonce of a legitimate one.
    let mut forged = fresh(now + 40, "BBBBBBBBBBBBBBBBBBBBBBBB");
    forged.headers.retain(|(n, _)| n != "signature");
    forged
        .headers
        .push(("signature".into(), "sig1=:AAAA:".into()));
    assert_eq!(
        verify(&forged, &keys, &mut nonces, now + 40),
        Err(AuthError::BadSignature)
    );
    assert!(
        verify(
            &fresh(now + 40, "BBBBBBBBBBBBBBBBBBBBBBBB"),
            &keys,
            &mut nonces,
            now + 40
        )
        .is_ok()
    );
}

#[test]
fn nonce_cache_refuses_when_full_of_fresh_nonces() {
    let mut cache = NonceCache::new(2);
    assert!(cache.insert("a", 10, 0));
    assert!(cache.insert("b", 12, 0));
    assert!(
        !cache.insert("c", 12, 5),
        "full: refuse rather than forget a fresh nonce"
    );
    assert!(cache.insert("c", 20, 10), "a expired at 10 and made room");
    assert!(!cache.insert("b", 30, 11));
}

#[test]
fn key_and_secret_rules() {
    let now = 1_800_000_000;
    let keys = keyring();
    let mut nonces = NonceCache::default();
    // A key without a secret may connect unsigned; a key with one may not.
    let mut open = request();
    open.headers
        .retain(|(n, _)| !n.eq_ignore_ascii_case("x-api-key"));
    open.headers.push(("x-api-key".into(), "open-key".into()));
    assert_eq!(verify(&open, &keys, &mut nonces, now).unwrap(), "open-key");
    assert_eq!(
        verify(&request(), &keys, &mut nonces, now),
        Err(AuthError::MissingSignature)
    );
    let mut half = request();
    half.headers
        .push(("signature".into(), VECTOR1_SIGNATURE.into()));
    assert_eq!(
        verify(&half, &keys, &mut nonces, now),
        Err(AuthError::MissingSignature)
    );
    let mut anonymous = request();
    anonymous
        .headers
        .retain(|(n, _)| !n.eq_ignore_ascii_case("x-api-key"));
    assert_eq!(
        verify(&anonymous, &keys, &mut nonces, now),
        Err(AuthError::MissingApiKey)
    );
    let mut stranger = open.clone();
    stranger.headers.last_mut().unwrap().1 = "who-am-i".into();
    assert_eq!(
        verify(&stranger, &keys, &mut nonces, now),
        Err(AuthError::UnknownKey)
    );
    // Signed with the wrong secret.
    let h = sign(
        &request(),
        b"not the secret",
        &params(now, now + 30, "CCCCCCCCCCCCCCCCCCCCCCCC"),
    )
    .unwrap();
    assert_eq!(
        verify(
            &signed(&h.signature_input, &h.signature),
            &keys,
            &mut nonces,
            now
        ),
        Err(AuthError::BadSignature)
    );
}

#[test]
fn tampering_with_any_covered_value_breaks_the_signature() {
    let now = 1_800_000_000;
    let keys = keyring();
    for (i, header) in [
        "Audiohook-Organization-Id",
        "Audiohook-Session-Id",
        "Audiohook-Correlation-Id",
    ]
    .iter()
    .enumerate()
    {
        let mut r = fresh(now, &format!("DDDDDDDDDDDDDDDDDDDDDDD{i}"));
        let slot = r.headers.iter_mut().find(|(n, _)| n == header).unwrap();
        slot.1 = "00000000-0000-4000-8000-000000000000".into();
        assert_eq!(
            verify(&r, &keys, &mut NonceCache::default(), now),
            Err(AuthError::BadSignature),
            "{header}"
        );
    }
    let mut r = fresh(now, "EEEEEEEEEEEEEEEEEEEEEEEE");
    r.request_target = "/other".into();
    assert_eq!(
        verify(&r, &keys, &mut NonceCache::default(), now),
        Err(AuthError::BadSignature)
    );
    let mut r = fresh(now, "FFFFFFFFFFFFFFFFFFFFFFFF");
    r.authority = "evil.example.com".into();
    assert_eq!(
        verify(&r, &keys, &mut NonceCache::default(), now),
        Err(AuthError::BadSignature)
    );
}

#[test]
fn malformed_parameters_are_refused() {
    let now = CREATED + 1;
    let keys = keyring();
    let check = |input: String| {
        verify(
            &signed(&input, VECTOR1_SIGNATURE),
            &keys,
            &mut NonceCache::default(),
            now,
        )
    };
    assert_eq!(
        check(VECTOR1_INPUT.replace("hmac-sha256", "rsa-pss-sha512")),
        Err(AuthError::UnsupportedAlgorithm("rsa-pss-sha512".into()))
    );
    assert_eq!(
        check(VECTOR1_INPUT.replace(NONCE, "short")),
        Err(AuthError::WeakNonce)
    );
    assert_eq!(
        check(VECTOR1_INPUT.replace("keyid=\"SGVs", "keyid=\"XGVs")),
        Err(AuthError::KeyIdMismatch)
    );
    assert_eq!(
        check(VECTOR1_INPUT.replace(" \"x-api-key\"", "")),
        Err(AuthError::MissingComponent("x-api-key"))
    );
    assert!(matches!(
        check(format!("{VECTOR1_INPUT};tag=\"x\"")),
        Err(AuthError::Malformed(_))
    ));
    assert!(matches!(
        check(VECTOR1_INPUT.replace("created=1641013200", "created=\"1641013200\"")),
        Err(AuthError::Malformed(_))
    ));
    assert!(matches!(
        check(VECTOR1_INPUT.replace(")", " \"@signature-params\")")),
        Err(AuthError::Malformed(_))
    ));
    assert!(matches!(
        check(VECTOR1_INPUT.replace("\"@authority\"", "\"@Authority\"")),
        Err(AuthError::Malformed(_))
    ));
    assert!(matches!(
        check("sig1=(".into()),
        Err(AuthError::Malformed(_))
    ));
    let other_label = signed(
        VECTOR1_INPUT,
        "sig2=:NZBwyBHRRyRoeLqy1IzOa9VYBuI8TgMFt2GRDkDuJh4=:",
    );
    assert!(matches!(
        verify(&other_label, &keys, &mut NonceCache::default(), now),
        Err(AuthError::Malformed(_))
    ));
}
