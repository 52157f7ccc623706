/*
 * A released instance lock wakes a fetcher when messages wait for that instance: they arrived
 * while it was locked (the batch of the turn itself is deleted before the lock) or were handed
 * back by an abandon. A release with nothing waiting wakes nobody.
 */
CREATE OR REPLACE FUNCTION notify_orchestrator_lock_released() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM orchestrator_queue q WHERE q.instance_id = OLD.instance_id) THEN
    PERFORM pg_notify(wakeup_channel('orch'), '');
  END IF;
  RETURN NULL;
END
$$;
