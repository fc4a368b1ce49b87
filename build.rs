//! Enables the PostgreSQL test suite (cfg `keymint_pg`) when `KEYMINT_TEST_POSTGRES_URL`
//! is set at build time, and the gateway test (cfg `keymint_gateway`) when
//! `KEYMINT_TEST_GATEWAY` is, and the browser test (cfg `keymint_browser`) when
//! `KEYMINT_TEST_BROWSER` is, and the OpenID Connect sign-in tests (cfg `keymint_oidc`) when
//! `KEYMINT_TEST_OIDC_PROVIDER` is, and the disk-full test (cfg `keymint_disk_full`) when
//! `KEYMINT_TEST_DISK_FULL_DIR` is; otherwise those tests show as ignored, with the reason.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(keymint_pg)");
    println!("cargo::rustc-check-cfg=cfg(keymint_gateway)");
    println!("cargo::rerun-if-env-changed=KEYMINT_TEST_GATEWAY");
    if std::env::var_os("KEYMINT_TEST_GATEWAY").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=keymint_gateway");
    }
    println!("cargo::rustc-check-cfg=cfg(keymint_browser)");
    println!("cargo::rerun-if-env-changed=KEYMINT_TEST_BROWSER");
    if std::env::var_os("KEYMINT_TEST_BROWSER").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=keymint_browser");
    }
    println!("cargo::rustc-check-cfg=cfg(keymint_oidc)");
    println!("cargo::rerun-if-env-changed=KEYMINT_TEST_OIDC_PROVIDER");
    if std::env::var_os("KEYMINT_TEST_OIDC_PROVIDER").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=keymint_oidc");
    }
    println!("cargo::rustc-check-cfg=cfg(keymint_disk_full)");
    println!("cargo::rerun-if-env-changed=KEYMINT_TEST_DISK_FULL_DIR");
    if std::env::var_os("KEYMINT_TEST_DISK_FULL_DIR").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=keymint_disk_full");
    }
    println!("cargo::rerun-if-env-changed=KEYMINT_TEST_POSTGRES_URL");
    if std::env::var_os("KEYMINT_TEST_POSTGRES_URL").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=keymint_pg");
    }
}
