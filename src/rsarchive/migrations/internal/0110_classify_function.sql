-- Least privilege (issue #26, part 6): the internal API's role cannot write the internal
-- catalog, but an officer classifies a held item through the API.  This function is that
-- one capability and nothing more: it sets an item's security classification (and its
-- `updated` time) and the delivery's, checked against the four levels.  It runs with its
-- owner's rights; `services up` grants EXECUTE to the internal API's role alone.
CREATE FUNCTION rsarchive.set_item_classification(_collection text, _id text, _classification text,
                                                  _updated timestamptz DEFAULT now())
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pgstac, public AS $$
DECLARE
    item jsonb;
BEGIN
    IF _classification IS NULL OR _classification NOT IN ('unclassified', 'confidential', 'secret', 'top-secret') THEN
        RAISE EXCEPTION 'security classification % is not one of unclassified, confidential, secret, top-secret',
            quote_nullable(_classification) USING ERRCODE = '22023';
    END IF;
    item := pgstac.get_item(_id, _collection);
    IF item IS NULL THEN
        RAISE EXCEPTION 'item % not found in collection %', _id, _collection USING ERRCODE = 'P0002';
    END IF;
    item := jsonb_set(item, '{properties,rsarchive:security_classification}', to_jsonb(_classification));
    item := jsonb_set(item, '{properties,updated}',
                      to_jsonb(to_char(_updated AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')));
    PERFORM pgstac.upsert_item(item);
    UPDATE rsarchive.originals SET classification = _classification WHERE item_id = _id;
END $$;
REVOKE ALL ON FUNCTION rsarchive.set_item_classification(text, text, text, timestamptz) FROM PUBLIC;
