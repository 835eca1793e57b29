-- Payments of fee statements (Circular 187/2016/TT-BTC, Art. 2.1): an officer records each payment
-- received for a request's delivery; the delivery is released when the statement is paid in full
-- (or exempt, or its total is zero).
CREATE TABLE rsarchive.fee_payments (
    id           bigserial PRIMARY KEY,
    request_id   bigint NOT NULL REFERENCES rsarchive.deliveries (request_id),
    amount       bigint NOT NULL CHECK (amount > 0),
    currency     text NOT NULL DEFAULT 'VND' CHECK (length(btrim(currency)) > 0),
    paid_on      date NOT NULL,
    reference    text NOT NULL CHECK (length(btrim(reference)) > 0),
    recorded_by  bigint REFERENCES rsarchive.users (id),
    recorded_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX fee_payments_request ON rsarchive.fee_payments (request_id);
