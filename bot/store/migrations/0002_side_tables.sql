-- Tables other parts keep beside the log: web chat sessions, Slack event ids and threads,
-- the agents' console, the review queue and labels.
CREATE TABLE webchat_sessions (
    token_hash TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL UNIQUE,
    created_at DOUBLE PRECISION NOT NULL,
    last_seen_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE slack_events (
    event_id TEXT PRIMARY KEY,
    seen_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX idx_slack_events_seen ON slack_events (seen_at);
CREATE TABLE slack_threads (
    channel TEXT NOT NULL,
    thread_ts TEXT NOT NULL,
    seen_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (channel, thread_ts)
);
CREATE TABLE agent_accounts (
    name TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE agent_audit (
    id BIGSERIAL PRIMARY KEY,
    at DOUBLE PRECISION NOT NULL,
    agent TEXT NOT NULL,
    action TEXT NOT NULL,
    conversation_id TEXT,
    details TEXT
);
CREATE INDEX idx_agent_audit_conversation ON agent_audit (conversation_id);
CREATE TABLE agent_queue (
    conversation_id TEXT PRIMARY KEY,
    channel TEXT NOT NULL,
    reason TEXT,
    summary TEXT NOT NULL,
    requested_at DOUBLE PRECISION NOT NULL,
    status TEXT NOT NULL,
    agent TEXT,
    claimed_at DOUBLE PRECISION,
    closed_at DOUBLE PRECISION,
    outcome TEXT
);
CREATE INDEX idx_agent_queue_status ON agent_queue (status, requested_at);
CREATE TABLE agent_notes (
    id BIGSERIAL PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    agent TEXT NOT NULL,
    text TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX idx_agent_notes_conversation ON agent_notes (conversation_id);
CREATE TABLE agent_surveys (
    conversation_id TEXT PRIMARY KEY,
    agent TEXT,
    score INTEGER,
    asked_at DOUBLE PRECISION NOT NULL,
    answered_at DOUBLE PRECISION
);
CREATE TABLE review_queue (
    turn_id BIGINT PRIMARY KEY REFERENCES turns(id) ON DELETE CASCADE,
    conversation_id TEXT NOT NULL,
    message TEXT NOT NULL,
    intent TEXT,
    confidence DOUBLE PRECISION,
    reply TEXT,
    reasons TEXT NOT NULL,
    cluster INTEGER,
    score DOUBLE PRECISION,
    batch TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    created_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE review_labels (
    turn_id BIGINT PRIMARY KEY REFERENCES turns(id) ON DELETE CASCADE,
    conversation_id TEXT NOT NULL,
    text TEXT NOT NULL,
    intent TEXT NOT NULL,
    new_intent INTEGER NOT NULL DEFAULT 0,
    reply TEXT,
    reviewer TEXT NOT NULL,
    source TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL
);
