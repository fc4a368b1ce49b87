-- The public URL each instance serves (postgres), refreshed while it runs, so instances on
-- one database notice when they disagree: tokens carry the URL in `iss`, and a token
-- minted at one instance is refused by another that serves a different URL.
CREATE TABLE keymint_public_urls (
    public_url TEXT PRIMARY KEY,
    seen_at    TIMESTAMPTZ NOT NULL
);
