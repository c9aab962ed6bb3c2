package graph

import "socdesk/graph/model"

// maxNodes bounds nodes(ids:).
const maxNodes = 100

func deleted(id int, err error) (*model.DeletePayload, error) {
	if err != nil {
		return nil, err
	}
	return &model.DeletePayload{DeletedID: id}, nil
}
