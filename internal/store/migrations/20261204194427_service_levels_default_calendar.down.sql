DELETE FROM business_calendars WHERE is_default AND name = 'Default';
