//! Measures the two CPU costs of the token path on this machine: one argon2id
//! verification (OWASP parameters, through Keymint's hashing pool) and one access-token
//! signature per algorithm (Keymint's pre-parsed keys). Run via `bench/crypto.sh`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use keymint::oauth::{ClaimsTemplate, FixedClaims};
use keymint::secrets::{SecretHasher, new_client_secret};
use keymint::signing::{SigningAlg, SigningKey};

fn summary(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let pick = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    format!(
        "median {:>9.1?}  p90 {:>9.1?}  ({} runs)",
        pick(0.5),
        pick(0.9),
        samples.len()
    )
}

#[tokio::main]
async fn main() {
    let hasher = Arc::new(SecretHasher::new(1, Duration::from_secs(60)));
    let secret = new_client_secret();
    let phc = hasher.hash(&secret).await.expect("hash");
    let mut verify = Vec::new();
    for _ in 0..40 {
        let started = Instant::now();
        assert!(hasher.verify(&secret, &phc).await.expect("verify"));
        verify.push(started.elapsed());
    }
    println!("argon2id verify (m=19456,t=2,p=1): {}", summary(verify));

    let config = keymint::config::Config::from_lookup(|name| {
        (name == "KEYMINT_PUBLIC_URL").then(|| "https://keymint.example".to_owned())
    })
    .expect("config");
    let production = &config.environments[0];
    for (alg, runs) in [
        (SigningAlg::Es256, 5000),
        (SigningAlg::Rs256, 1000),
        (SigningAlg::EdDsa, 5000),
    ] {
        let (key, _) = SigningKey::generate(alg).expect("generate");
        let permissions =
            keymint::domain::Permissions::parse(["runs:read", "runs:write"]).expect("permissions");
        // What a warm token costs: its credential's template is written once, then each
        // token writes its varying claims and signs.
        let template = ClaimsTemplate::new(&FixedClaims {
            iss: "https://keymint.example/production",
            sub: "alice",
            aud: "https://keymint.example/production",
            client_id: "kmc_AAAAAAAAAAAAAAAAAAAAAA",
            scope: "runs:read runs:write",
            permissions: &permissions,
            env: "production",
            sv: Some("c2VjcmV0dmVy"),
            status: keymint::status_list::StatusClaim::new(production, 7),
        });
        let mut samples = Vec::with_capacity(runs);
        for i in 0..runs {
            let jti = format!("jti-{i}");
            let started = Instant::now();
            let token = template.sign(&key, 1_800_000_000, 1_800_000_600, &jti);
            samples.push(started.elapsed());
            std::hint::black_box(token);
        }
        println!(
            "JWT sign {:<5} (varying claims from the template + signature): {}",
            alg.as_str(),
            summary(samples)
        );
    }
}
