package e2b

// UnsupportedRoutes lists the method and pattern of every route answered 501.
func UnsupportedRoutes() [][2]string {
	out := make([][2]string, 0, len(unsupported))
	for _, u := range unsupported {
		out = append(out, [2]string{u.method, u.pattern})
	}
	return out
}
