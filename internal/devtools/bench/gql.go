package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// gqlClient posts GraphQL operations to /graphql with a bearer token.
type gqlClient struct {
	url   string // http://host:port/graphql
	token string
	http  *http.Client
}

func newGQLClient(base, token string) *gqlClient {
	return &gqlClient{
		url:   strings.TrimRight(base, "/") + "/graphql",
		token: token,
		http: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			MaxIdleConnsPerHost: 16, IdleConnTimeout: 90 * time.Second,
		}},
	}
}

type gqlError struct {
	Message    string         `json:"message"`
	Extensions map[string]any `json:"extensions"`
}

// do runs query with vars and decodes its data into out (may be nil).
func (c *gqlClient) do(ctx context.Context, query string, vars map[string]any, out any) error {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/graphql-response+json, application/json")
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return err
	}
	var r struct {
		Data   json.RawMessage `json:"data"`
		Errors []gqlError      `json:"errors"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, truncate(string(b), 300))
	}
	if len(r.Errors) > 0 {
		return fmt.Errorf("HTTP %d: %s (%v)", resp.StatusCode, r.Errors[0].Message, r.Errors[0].Extensions["code"])
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, truncate(string(b), 300))
	}
	if out != nil {
		return json.Unmarshal(r.Data, out)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// benchTicket creates the ticket the benchmark updates and returns its id.
func (c *gqlClient) benchTicket(ctx context.Context, title string) (id, siteID string, err error) {
	var refs struct {
		Categories []struct {
			ID       string `json:"id"`
			Workflow string `json:"workflow"`
		} `json:"categories"`
		Sites []struct {
			ID string `json:"id"`
		} `json:"sites"`
	}
	if err := c.do(ctx, `{ categories { id workflow } sites { id } }`, nil, &refs); err != nil {
		return "", "", fmt.Errorf("listing categories and sites: %w", err)
	}
	if len(refs.Categories) == 0 || len(refs.Sites) == 0 {
		return "", "", fmt.Errorf("the database has no categories or no sites (seed it first)")
	}
	cat := refs.Categories[0].ID
	for _, c := range refs.Categories {
		if c.Workflow == "APPROVAL" {
			cat = c.ID
			break
		}
	}
	var created struct {
		CreateTicket struct {
			ID string `json:"id"`
		} `json:"createTicket"`
	}
	err = c.do(ctx, `mutation($in: CreateTicketInput!){ createTicket(input: $in){ id } }`, map[string]any{
		"in": map[string]any{
			"kind": "ANALYSIS", "title": title, "body": "Ticket updated by socdesk-bench subscriptions.",
			"categoryID": cat, "siteID": refs.Sites[0].ID,
		},
	}, &created)
	if err != nil {
		return "", "", fmt.Errorf("creating the benchmark ticket: %w", err)
	}
	return created.CreateTicket.ID, refs.Sites[0].ID, nil
}

const updateTitle = `mutation($id: ID!, $t: String!){ updateTicket(id: $id, input: {title: $t}){ id } }`

func (c *gqlClient) setTitle(ctx context.Context, id, title string) error {
	return c.do(ctx, updateTitle, map[string]any{"id": id, "t": title}, nil)
}

// createViewers creates users login(i) for i in [0, n), ANALYSTs with
// TICKET_VIEW on every site, and returns their logins.
func (c *gqlClient) createViewers(ctx context.Context, prefix string, n int) ([]string, error) {
	var refs struct {
		Sites []struct {
			ID string `json:"id"`
		} `json:"sites"`
	}
	if err := c.do(ctx, `{ sites { id } }`, nil, &refs); err != nil {
		return nil, fmt.Errorf("listing sites: %w", err)
	}
	sites := make([]string, len(refs.Sites))
	for i, s := range refs.Sites {
		sites[i] = s.ID
	}
	logins := make([]string, n)
	for i := range n {
		logins[i] = fmt.Sprintf("%s%04d", prefix, i)
		err := c.do(ctx, `mutation($in: CreateUserInput!){ createUser(input: $in){ id } }`, map[string]any{"in": map[string]any{
			"login": logins[i], "displayName": "Bench subscriber " + strconv.Itoa(i), "role": "ANALYST",
			"permissions": []string{"TICKET_VIEW"}, "siteIDs": sites,
		}}, nil)
		if err != nil {
			return nil, fmt.Errorf("creating user %s: %w", logins[i], err)
		}
	}
	return logins, nil
}
