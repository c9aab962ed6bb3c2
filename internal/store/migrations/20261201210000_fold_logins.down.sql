-- Folded logins stay folded: the original case is not kept.
SELECT 1;
