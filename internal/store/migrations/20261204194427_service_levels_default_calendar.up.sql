-- The default business calendar (package sla): Monday to Friday, 09:00 to
-- 17:00 UTC, no holidays; there is always exactly one default. Portable:
-- run on SQLite at every start too (store.dataMigrations), idempotent.
INSERT INTO business_calendars (name, time_zone, working_days, day_start, day_end, holidays, is_default)
SELECT 'Default', 'UTC', '[1,2,3,4,5]', '09:00', '17:00', '[]', true
WHERE NOT EXISTS (SELECT 1 FROM business_calendars WHERE is_default);
