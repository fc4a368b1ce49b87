# Keymint container image: a release build on Debian, run as an unprivileged user.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY src ./src
COPY migrations ./migrations
RUN cargo build --release --locked --bin keymint

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/keymint --create-home keymint
COPY --from=build /src/target/release/keymint /usr/local/bin/keymint
USER keymint
WORKDIR /var/lib/keymint
# Signing keys live in the database, sealed under KEYMINT_ENCRYPTION_KEYS: give every
# replica the same value from a secret. (Unset, a generated keys/encryption-keys in this
# folder is used, which then must survive the container.)
ENV KEYMINT_LISTEN=0.0.0.0:8080
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD curl -fsS http://127.0.0.1:8080/readyz || exit 1
ENTRYPOINT ["keymint"]
CMD ["serve"]
