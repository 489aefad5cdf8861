//! Published Ed25519 vectors through the crate's strict verify path (`verify_ed25519_strict`,
//! which every release-signing check uses): RFC 8032 §7.1 and Project Wycheproof.

use ed25519_dalek::{Signer, SigningKey};
use serde_json::Value;
use wavekat_platform_client::signing::verify_ed25519_strict;

struct Rfc8032Vector {
    secret: &'static str,
    public: &'static str,
    message: &'static str,
    signature: &'static str,
}

const TEST_1: Rfc8032Vector = Rfc8032Vector {
    secret: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    public: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
    message: "",
    signature: "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
};

const TEST_2: Rfc8032Vector = Rfc8032Vector {
    secret: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
    public: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
    message: "72",
    signature: "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
};

const TEST_3: Rfc8032Vector = Rfc8032Vector {
    secret: "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
    public: "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
    message: "af82",
    signature: "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
};

const TEST_1024: Rfc8032Vector = Rfc8032Vector {
    secret: "f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5",
    public: "278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e",
    message: concat!(
        "08b8b2b733424243760fe426a4b54908632110a66c2f6591eabd3345e3e4eb98fa6e264bf09efe12ee50f8f54e9f77b1",
        "e355f6c50544e23fb1433ddf73be84d879de7c0046dc4996d9e773f4bc9efe5738829adb26c81b37c93a1b270b20329d",
        "658675fc6ea534e0810a4432826bf58c941efb65d57a338bbd2e26640f89ffbc1a858efcb8550ee3a5e1998bd177e93a",
        "7363c344fe6b199ee5d02e82d522c4feba15452f80288a821a579116ec6dad2b3b310da903401aa62100ab5d1a36553e",
        "06203b33890cc9b832f79ef80560ccb9a39ce767967ed628c6ad573cb116dbefefd75499da96bd68a8a97b928a8bbc10",
        "3b6621fcde2beca1231d206be6cd9ec7aff6f6c94fcd7204ed3455c68c83f4a41da4af2b74ef5c53f1d8ac70bdcb7ed1",
        "85ce81bd84359d44254d95629e9855a94a7c1958d1f8ada5d0532ed8a5aa3fb2d17ba70eb6248e594e1a2297acbbb39d",
        "502f1a8c6eb6f1ce22b3de1a1f40cc24554119a831a9aad6079cad88425de6bde1a9187ebb6092cf67bf2b13fd65f270",
        "88d78b7e883c8759d2c4f5c65adb7553878ad575f9fad878e80a0c9ba63bcbcc2732e69485bbc9c90bfbd62481d9089b",
        "eccf80cfe2df16a2cf65bd92dd597b0707e0917af48bbb75fed413d238f5555a7a569d80c3414a8d0859dc65a46128ba",
        "b27af87a71314f318c782b23ebfe808b82b0ce26401d2e22f04d83d1255dc51addd3b75a2b1ae0784504df543af8969b",
        "e3ea7082ff7fc9888c144da2af58429ec96031dbcad3dad9af0dcbaaaf268cb8fcffead94f3c7ca495e056a9b47acdb7",
        "51fb73e666c6c655ade8297297d07ad1ba5e43f1bca32301651339e22904cc8c42f58c30c04aafdb038dda0847dd988d",
        "cda6f3bfd15c4b4c4525004aa06eeff8ca61783aacec57fb3d1f92b0fe2fd1a85f6724517b65e614ad6808d6f6ee34df",
        "f7310fdc82aebfd904b01e1dc54b2927094b2db68d6f903b68401adebf5a7e08d78ff4ef5d63653a65040cf9bfd4aca7",
        "984a74d37145986780fc0b16ac451649de6188a7dbdf191f64b5fc5e2ab47b57f7f7276cd419c17a3ca8e1b939ae49e4",
        "88acba6b965610b5480109c8b17b80e1b7b750dfc7598d5d5011fd2dcc5600a32ef5b52a1ecc820e308aa342721aac09",
        "43bf6686b64b2579376504ccc493d97e6aed3fb0f9cd71a43dd497f01f17c0e2cb3797aa2a2f256656168e6c496afc5f",
        "b93246f6b1116398a346f1a641f3b041e989f7914f90cc2c7fff357876e506b50d334ba77c225bc307ba537152f3f161",
        "0e4eafe595f6d9d90d11faa933a15ef1369546868a7f3a45a96768d40fd9d03412c091c6315cf4fde7cb68606937380d",
        "b2eaaa707b4c4185c32eddcdd306705e4dc1ffc872eeee475a64dfac86aba41c0618983f8741c5ef68d3a101e8a3b8ca",
        "c60c905c15fc910840b94c00a0b9d0",
    ),
    signature: "0aab4c900501b3e24d7cdf4663326a3a87df5e4843b2cbdb67cbf6e460fec350aa5371b1508f9f4528ecea23c436d94b5e8fcd4f681e30a6ac00a9704a188a03",
};

/// The message is SHA-512("abc").
const TEST_SHA_ABC: Rfc8032Vector = Rfc8032Vector {
    secret: "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
    public: "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
    message: "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
    signature: "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704",
};

fn bytes(hex_text: &str) -> Vec<u8> {
    hex::decode(hex_text).expect("test vector hex")
}

fn array<const N: usize>(hex_text: &str) -> [u8; N] {
    bytes(hex_text).try_into().expect("test vector length")
}

/// The vector is self-consistent under ed25519-dalek (so a mistyped vector fails here), and our
/// strict path accepts it and rejects it with one message bit flipped.
fn check_rfc8032(vector: &Rfc8032Vector) {
    let signing_key = SigningKey::from_bytes(&array::<32>(vector.secret));
    let public = array::<32>(vector.public);
    let message = bytes(vector.message);
    let signature = bytes(vector.signature);
    assert_eq!(
        signing_key.verifying_key().to_bytes(),
        public,
        "public key derives from the secret"
    );
    assert_eq!(
        signing_key.sign(&message).to_bytes().to_vec(),
        signature,
        "signature reproduces"
    );

    assert!(
        verify_ed25519_strict(&public, &message, &signature),
        "strict verify accepts"
    );

    let mut tampered = message.clone();
    match tampered.first_mut() {
        Some(byte) => *byte ^= 0x01,
        None => tampered.push(0x00),
    }
    assert!(
        !verify_ed25519_strict(&public, &tampered, &signature),
        "strict verify rejects a changed message"
    );
}

#[test]
fn rfc8032_test_1_empty_message() {
    check_rfc8032(&TEST_1);
}

#[test]
fn rfc8032_test_2_one_byte_message() {
    check_rfc8032(&TEST_2);
}

#[test]
fn rfc8032_test_3_two_byte_message() {
    check_rfc8032(&TEST_3);
}

#[test]
fn rfc8032_test_1024_message_of_1023_bytes() {
    assert_eq!(bytes(TEST_1024.message).len(), 1023);
    check_rfc8032(&TEST_1024);
}

#[test]
fn rfc8032_test_sha_abc() {
    check_rfc8032(&TEST_SHA_ABC);
}

#[test]
fn strict_verify_refuses_a_signature_that_is_not_64_bytes() {
    let public = array::<32>(TEST_1.public);
    let signature = bytes(TEST_1.signature);
    assert!(!verify_ed25519_strict(&public, b"", &signature[..63]));
}

struct WycheproofCase {
    tc_id: u64,
    public: [u8; 32],
    message: Vec<u8>,
    signature: Vec<u8>,
    result: String,
}

fn wycheproof_cases() -> Vec<WycheproofCase> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/wycheproof/ed25519_test.json"
    );
    let text = std::fs::read_to_string(path).expect("read the Wycheproof file");
    let file: Value = serde_json::from_str(&text).expect("parse the Wycheproof file");
    assert_eq!(file["algorithm"], "EDDSA");
    let mut cases = Vec::new();
    for group in file["testGroups"].as_array().expect("testGroups") {
        assert_eq!(group["publicKey"]["curve"], "edwards25519");
        let public = array::<32>(group["publicKey"]["pk"].as_str().expect("pk"));
        for test in group["tests"].as_array().expect("tests") {
            cases.push(WycheproofCase {
                tc_id: test["tcId"].as_u64().expect("tcId"),
                public,
                message: bytes(test["msg"].as_str().expect("msg")),
                signature: bytes(test["sig"].as_str().expect("sig")),
                result: test["result"].as_str().expect("result").to_owned(),
            });
        }
    }
    assert_eq!(
        cases.len() as u64,
        file["numberOfTests"].as_u64().expect("numberOfTests")
    );
    cases
}

/// This file (0.9rc5, 151 tests) has only "valid" and "invalid" verdicts, no "acceptable" ones,
/// and strict verification agrees with every one: it rejects nothing the file calls valid and
/// accepts nothing it calls invalid.
#[test]
fn wycheproof_ed25519_verdicts_hold_under_strict_verification() {
    let cases = wycheproof_cases();
    assert_eq!(cases.len(), 151);
    let disagreements: Vec<(u64, &str)> = cases
        .iter()
        .filter_map(|case| {
            let accepted = verify_ed25519_strict(&case.public, &case.message, &case.signature);
            let expected = match case.result.as_str() {
                "valid" => true,
                "invalid" => false,
                other => panic!("tcId {}: unexpected verdict {other}", case.tc_id),
            };
            (accepted != expected).then_some((case.tc_id, case.result.as_str()))
        })
        .collect();
    assert_eq!(disagreements, Vec::<(u64, &str)>::new());
}

#[test]
fn wycheproof_file_has_both_verdicts() {
    let cases = wycheproof_cases();
    let valid = cases.iter().filter(|c| c.result == "valid").count();
    let invalid = cases.iter().filter(|c| c.result == "invalid").count();
    assert_eq!((valid, invalid), (88, 63));
}

/// The identity point as public key and as `R`, with `S = 0`, "verifies" any message under the
/// lenient RFC 8032 equation (the published 0.0.37 client's `verify`); the strict path refuses
/// the small-order key. The Wycheproof file above has no such case (lenient and strict agree on
/// all 151), so this pins the difference.
#[test]
fn strict_verify_refuses_the_identity_key_that_lenient_verify_accepts() {
    use ed25519_dalek::{Signature, Verifier, VerifyingKey};
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let mut signature = [0u8; 64];
    signature[0] = 1;
    let message = b"any message at all";

    let lenient_key = VerifyingKey::from_bytes(&identity).expect("identity decodes");
    let lenient = lenient_key.verify(message, &Signature::from_bytes(&signature));
    assert!(lenient.is_ok(), "lenient verify accepts the forgery");

    assert!(!verify_ed25519_strict(&identity, message, &signature));
}
