package alert

// table is a map keyed by wire data with a hard cap: a new key beyond it
// evicts the least recently touched one (counted, and its alert closed
// first). Nodes are recycled, so a full table allocates nothing for a new
// key but what the Go map itself may need.
type table[K comparable, V any] struct {
	m          map[K]*node[K, V]
	head, tail *node[K, V] // least recently touched first
	max        int
	evicted    uint64
	onEvict    func(*V)
}

type node[K comparable, V any] struct {
	key        K
	prev, next *node[K, V]
	v          V
}

func newTable[K comparable, V any](max int, onEvict func(*V)) *table[K, V] {
	return &table[K, V]{m: make(map[K]*node[K, V]), max: max, onEvict: onEvict}
}

func (t *table[K, V]) len() int { return len(t.m) }

// get returns the value of k, touching it, or nil.
func (t *table[K, V]) get(k K) *V {
	n := t.m[k]
	if n == nil {
		return nil
	}
	t.moveBack(n)
	return &n.v
}

// getOrAdd returns the value of k, adding a zero one (evicting the oldest
// key when full); added tells whether it is new.
func (t *table[K, V]) getOrAdd(k K) (v *V, added bool) {
	if n := t.m[k]; n != nil {
		t.moveBack(n)
		return &n.v, false
	}
	var n *node[K, V]
	if len(t.m) >= t.max {
		n = t.head
		if t.onEvict != nil {
			t.onEvict(&n.v)
		}
		t.unlink(n)
		delete(t.m, n.key)
		t.evicted++
		var zero V
		n.v = zero
	} else {
		n = new(node[K, V])
	}
	n.key = k
	t.m[k] = n
	t.pushBack(n)
	return &n.v, true
}

func (t *table[K, V]) unlink(n *node[K, V]) {
	if n.prev != nil {
		n.prev.next = n.next
	} else {
		t.head = n.next
	}
	if n.next != nil {
		n.next.prev = n.prev
	} else {
		t.tail = n.prev
	}
	n.prev, n.next = nil, nil
}

func (t *table[K, V]) pushBack(n *node[K, V]) {
	n.prev = t.tail
	if t.tail != nil {
		t.tail.next = n
	} else {
		t.head = n
	}
	t.tail = n
}

func (t *table[K, V]) moveBack(n *node[K, V]) {
	if t.tail == n {
		return
	}
	t.unlink(n)
	t.pushBack(n)
}
