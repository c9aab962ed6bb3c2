package schematype

// DetectionPaths are where a detection rule finds a ticket's detection
// fields in an ingested event: JSON paths (`src.ip`, `$.alerts[0].host`),
// each optional.
type DetectionPaths struct {
	FirstDetectedAt string `json:"firstDetectedAt,omitempty"`
	LastDetectedAt  string `json:"lastDetectedAt,omitempty"`
	SourceIP        string `json:"sourceIP,omitempty"`
	DestinationIP   string `json:"destinationIP,omitempty"`
	SourcePort      string `json:"sourcePort,omitempty"`
	DestinationPort string `json:"destinationPort,omitempty"`
	Protocol        string `json:"protocol,omitempty"`
	Host            string `json:"host,omitempty"`
	// CustomFields map a custom field's key to its path (an EMAIL
	// template's "from" and "to").
	CustomFields []CustomFieldPath `json:"customFields,omitempty"`
}

// CustomFieldPath is a custom field of the ticket and where its value is.
type CustomFieldPath struct {
	Key  string `json:"key"`
	Path string `json:"path"`
}
