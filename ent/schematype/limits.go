package schematype

// Bounds of stored ticket fields, declared once: the ent schema validates
// them on every write, and the ticket service checks them first to name the
// field at fault. (They live here, not in internal/config, because the ent
// schema cannot import the configuration without an import cycle.)
const (
	MaxTitleLength    = 255 // characters of a ticket's title
	MaxHostLength     = 255 // characters of a detection's host
	MaxProtocolLength = 32  // bytes of a detection's protocol
)
