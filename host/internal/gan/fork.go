package gan

// Fork returns a copy of m, weights and optimizer state, whose step count
// starts at zero and whose random numbers come from seed: how a later chunk
// starts from chunk 0's final model. TrainChunks does the same in memory;
// Fork lets the chunks train in other processes or on other machines from
// chunk 0's saved checkpoint, with identical results.
func (m *Model) Fork(seed int64) (*Model, error) { return m.clone(seed) }
