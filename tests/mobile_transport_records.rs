//! The records a daemon and an app persist: `PairedDeviceRecord` (desktop) and `DeviceIdentity`
//! (phone) through serde, their secrets kept out of `Debug`, and a link resumed from restored
//! records after the desktop restarts.

mod mobile_support;

use mobile_support::*;
use tokio::net::TcpListener;
use wavekat_platform_client::mobile::keys::{OsRng, SigningKey};
use wavekat_platform_client::mobile::transport::{
    connect, DesktopConfig, DesktopEvent, DeviceIdentity, MobileDesktop, NoisePublicKey,
    NoiseSecretKey, PairedDeviceRecord, PhoneNoiseKeys, PhoneSecurity, PhoneStart,
};
use wavekat_platform_client::mobile::{encode_pubkey_multibase, PairedDevice};

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

#[tokio::test]
async fn a_restored_record_and_identity_resume_a_secure_link_after_a_desktop_restart() {
    let desktop_key = SigningKey::generate(&mut OsRng);
    let config = DesktopConfig::new(AGENT, &desktop_key.verifying_key());
    let (desktop, mut events) = MobileDesktop::bind("127.0.0.1:0", config.clone())
        .await
        .expect("binds");
    let (phone, _phone_events, identity) =
        pair(&desktop, desktop.url(), PhoneSecurity::PreferSecure).await;
    let record = expect_event(&mut events, |e| match e {
        DesktopEvent::Paired { record, .. } => Some(record),
        _ => None,
    })
    .await;
    assert!(record.noise_key.is_some() && identity.noise.is_some());
    // Wall-clock pairing times, meaningful after a restart.
    for paired_at in [record.device.paired_at, identity.paired_at] {
        assert!(unix_now().abs_diff(paired_at) < 60, "paired_at {paired_at}");
    }
    let stored_record = serde_json::to_string(&record).expect("serializes");
    let stored_identity = serde_json::to_string(&identity).expect("serializes");
    phone.close();
    desktop.shutdown().await;
    drop(events);

    // A new process: the same desktop key, the records read back.
    let restored_record: PairedDeviceRecord =
        serde_json::from_str(&stored_record).expect("the record loads");
    let restored_identity: DeviceIdentity =
        serde_json::from_str(&stored_identity).expect("the identity loads");
    assert_eq!(restored_record, record);
    assert_eq!(restored_identity, identity);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let (desktop, mut events) =
        MobileDesktop::serve(listener, config, vec![restored_record]).expect("serves");
    assert_eq!(desktop.devices(), vec![record]);
    let phone_config = phone_config(desktop.url(), PhoneSecurity::PreferSecure);
    let (phone, _phone_events, _) = connect(phone_config, PhoneStart::Resume(restored_identity))
        .await
        .expect("the restored identity resumes");
    let connection = expect_event(&mut events, |e| match e {
        DesktopEvent::Resumed { connection } => Some(connection),
        _ => None,
    })
    .await;
    assert!(
        connection.is_secure(),
        "resumed with the restored Noise keys"
    );
    phone.send_audio_start(16_000).await.expect("queued");
    phone.send_audio(&[0.125; 64]).await.expect("queued");
    let samples = expect_event(&mut events, |e| match e {
        DesktopEvent::AudioChunk { samples, .. } => Some(samples),
        _ => None,
    })
    .await;
    assert_eq!(samples, vec![0.125; 64]);
    phone.close();
    desktop.shutdown().await;
}

/// A record and an identity with fixed keys and secrets.
fn fixed() -> (PairedDeviceRecord, DeviceIdentity) {
    let device_key = SigningKey::from_bytes(&[0x11; 32]);
    let device = PairedDevice {
        pubkey: encode_pubkey_multibase(&device_key.verifying_key()),
        key: device_key.verifying_key(),
        agent: "mur".into(),
        paired_at: 1_764_633_600,
    };
    let record = PairedDeviceRecord::new(device, Some(NoisePublicKey([0x33; 32])));
    let mut identity = DeviceIdentity::new(device_key, "zDesktop");
    identity.noise = Some(PhoneNoiseKeys {
        phone: NoiseSecretKey::from_bytes([0x22; 32]),
        desktop: NoisePublicKey([0x44; 32]),
    });
    identity.paired_at = 1_764_633_600;
    (record, identity)
}

#[test]
fn the_serde_forms_are_the_documented_ones() {
    let (record, identity) = fixed();
    let pubkey = record.device.pubkey.clone();
    let record = serde_json::to_value(&record).expect("serializes");
    assert_eq!(
        record,
        serde_json::json!({
            "device": {"pubkey": pubkey, "agent": "mur", "paired_at": 1_764_633_600u64},
            "noise_key": NoisePublicKey([0x33; 32]).to_base64url(),
        })
    );
    let identity = serde_json::to_value(&identity).expect("serializes");
    assert_eq!(
        identity,
        serde_json::json!({
            "device_key": "11".repeat(32),
            "key_version": 0,
            "did": "zDesktop",
            "noise": {
                "phone_key": "22".repeat(32),
                "desktop_key": NoisePublicKey([0x44; 32]).to_base64url(),
            },
            "paired_at": 1_764_633_600u64,
        })
    );
}

#[test]
fn a_persisted_record_and_identity_never_show_their_secrets_in_debug() {
    let (record, identity) = fixed();
    for shown in [format!("{record:?}"), format!("{identity:?}")] {
        for secret in [
            "22".repeat(32),
            "11".repeat(32),
            "[34, 34".into(),
            "[17, 17".into(),
        ] {
            assert!(!shown.contains(&secret), "{shown}");
        }
    }
}

#[test]
fn an_older_record_loads_with_defaults_and_a_newer_ones_extra_fields_are_ignored() {
    let (record, _) = fixed();
    let pubkey = &record.device.pubkey;
    // A plain pairing, written by a version that knew no optional field, and one written by a
    // later version with a field this one does not know.
    for text in [
        format!(r#"{{"device":{{"pubkey":"{pubkey}","agent":"mur","paired_at":5}}}}"#),
        format!(
            r#"{{"device":{{"pubkey":"{pubkey}","agent":"mur","paired_at":5}},"static_key":"ab"}}"#
        ),
    ] {
        let loaded: PairedDeviceRecord = serde_json::from_str(&text).expect("loads");
        assert_eq!(loaded.noise_key, None);
        assert_eq!(loaded.device.key, record.device.key);
    }
    let identity: DeviceIdentity = serde_json::from_str(&format!(
        r#"{{"device_key":"{}","did":"z"}}"#,
        "11".repeat(32)
    ))
    .expect("loads");
    assert_eq!((identity.key_version, identity.paired_at), (0, 0));
    assert!(identity.noise.is_none());
}

#[test]
fn a_malformed_secret_or_key_is_refused_naming_its_field() {
    let (record, _) = fixed();
    let pubkey = &record.device.pubkey;
    let short = format!(
        r#"{{"device":{{"pubkey":"{pubkey}","agent":"mur","paired_at":5}},"noise_key":"abcd"}}"#
    );
    let error = serde_json::from_str::<PairedDeviceRecord>(&short).expect_err("refused");
    assert!(error.to_string().contains("noise_key"), "{error}");
    let bad_key = r#"{"device":{"pubkey":"zzz","agent":"mur","paired_at":5}}"#;
    let error = serde_json::from_str::<PairedDeviceRecord>(bad_key).expect_err("refused");
    assert!(
        error.to_string().contains("base58") || error.to_string().contains("key"),
        "{error}"
    );
    let error = serde_json::from_str::<DeviceIdentity>(r#"{"device_key":"xy","did":"z"}"#)
        .expect_err("refused");
    assert!(error.to_string().contains("device_key"), "{error}");
}
