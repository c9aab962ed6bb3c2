package wstest

// Change is what tests select of a TicketChange with ChangeQuery.
type Change struct {
	Cursor         string  `json:"cursor"`
	Kind           string  `json:"kind"`
	TicketID       string  `json:"ticketId"`
	TicketNumber   int     `json:"ticketNumber"`
	PreviousStatus *string `json:"previousStatus"`
	At             string  `json:"at"`
	InView         bool    `json:"inView"`
	Event          *struct {
		ID string `json:"id"`
	} `json:"event"`
	Actor *struct {
		Login string `json:"login"`
	} `json:"actor"`
	Changes []struct {
		Field string `json:"field"`
		From  any    `json:"from"`
		To    any    `json:"to"`
	} `json:"changes"`
	Ticket *struct {
		ID       string `json:"id"`
		Number   int    `json:"number"`
		Title    string `json:"title"`
		Status   string `json:"status"`
		Category struct {
			Name string `json:"name"`
		} `json:"category"`
	} `json:"ticket"`
}

// ChangeQuery subscribes to ticketEvents with $f and $after, selecting
// Change.
const ChangeQuery = `subscription($f: TicketFilter, $after: String) {
  ticketEvents(filter: $f, after: $after) {
    cursor kind ticketId ticketNumber previousStatus at inView event { id }
    actor { login }
    changes { field from to }
    ticket { id number title status category { name } }
  }
}`
