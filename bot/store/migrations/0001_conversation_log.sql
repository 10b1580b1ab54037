-- The conversation log and dialogue state (bot/store/conversation_log.py, state_store.py).
CREATE TABLE conversations (
    id TEXT PRIMARY KEY,
    channel TEXT,
    started_at DOUBLE PRECISION,
    last_seen_at DOUBLE PRECISION,
    turn_count BIGINT NOT NULL DEFAULT 0,
    sender_id TEXT,
    opt_out INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE turns (
    id BIGSERIAL PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    created_at DOUBLE PRECISION,
    channel TEXT,
    message TEXT,
    intent TEXT,
    confidence DOUBLE PRECISION,
    out_of_scope INTEGER,
    action TEXT,
    response TEXT,
    responses TEXT,
    retrieval_hits TEXT,
    moderation TEXT,
    latency_ms DOUBLE PRECISION,
    model_version TEXT,
    metadata TEXT
);
CREATE INDEX idx_turns_conversation_created ON turns (conversation_id, created_at);
CREATE INDEX idx_turns_created ON turns (created_at);
CREATE TABLE derived_rows (
    id BIGSERIAL PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    ref TEXT NOT NULL,
    text TEXT,
    label TEXT,
    created_at DOUBLE PRECISION,
    UNIQUE (kind, ref)
);
CREATE INDEX idx_derived_conversation ON derived_rows (conversation_id);
CREATE TABLE audit_log (
    id BIGSERIAL PRIMARY KEY,
    at DOUBLE PRECISION NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT,
    details TEXT
);
CREATE TABLE feedback (
    turn_id BIGINT PRIMARY KEY REFERENCES turns(id) ON DELETE CASCADE,
    conversation_id TEXT NOT NULL,
    value INTEGER NOT NULL,
    created_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX idx_feedback_conversation ON feedback (conversation_id);
CREATE TABLE conversation_state (
    conversation_id TEXT PRIMARY KEY,
    status TEXT NOT NULL DEFAULT 'bot',
    state TEXT NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX idx_conversation_state_status ON conversation_state (status);
CREATE TABLE handoff_changes (
    id BIGSERIAL PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    taken INTEGER NOT NULL,
    changed_at DOUBLE PRECISION NOT NULL
);
