package id

import (
	"database/sql/driver"
	"fmt"

	"github.com/google/uuid"
)

// Value implements driver.Valuer: IDs are stored as plain UUIDs.
func (i ID[K]) Value() (driver.Value, error) { return uuid.UUID(i).String(), nil }

// Scan implements sql.Scanner for UUID columns.
func (i *ID[K]) Scan(src any) error {
	var u uuid.UUID
	switch v := src.(type) {
	case string:
		p, err := uuid.Parse(v)
		if err != nil {
			return fmt.Errorf("%w: scanning %s id: %v", ErrInvalid, i.Kind().Name, err)
		}
		u = p
	case []byte:
		p, err := uuid.FromBytes(v)
		if err != nil {
			if p, err = uuid.ParseBytes(v); err != nil {
				return fmt.Errorf("%w: scanning %s id: %v", ErrInvalid, i.Kind().Name, err)
			}
		}
		u = p
	case [16]byte:
		u = v
	case nil:
		return fmt.Errorf("%w: scanning %s id: NULL into a non-null id", ErrInvalid, i.Kind().Name)
	default:
		return fmt.Errorf("%w: scanning %s id from %T", ErrInvalid, i.Kind().Name, src)
	}
	*i = ID[K](u)
	return nil
}
