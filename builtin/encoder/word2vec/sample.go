package word2vec

// sentenceSample keeps what training needs of the fit data in memory
// bounded by the vocabulary, not by the records: at most max sentences, a
// seeded uniform sample of all the records' sentences (reservoir sampling,
// Vitter's algorithm R), plus each token's first sentence, so that a token
// the sample misses still trains. Up to max records the sample is every
// sentence in order, so a trace that small trains exactly as on the whole
// corpus.
//
// Memory: 4·s·(max + V) bytes for sentences of s tokens over a vocabulary
// of V tokens.
type sentenceSample struct {
	max     int
	sentLen int
	rng     rng
	seen    int64   // sentences offered
	kept    []int32 // up to max sentences of sentLen token ids
	first   []int32 // by token id: the first sentence that held it
}

func newSentenceSample(max, sentLen int, seed int64) *sentenceSample {
	// Its own stream, so the sample does not shift training's draws.
	return &sentenceSample{max: max, sentLen: sentLen, rng: rng{s: uint64(seed) ^ 0x2545f4914f6cdd1d}}
}

// add offers one sentence; newTokens says how many of the vocabulary's
// ids were created for it (they are the highest), whose first sentence it
// is.
func (s *sentenceSample) add(sent []int32, newTokens int) {
	for ; newTokens > 0; newTokens-- {
		s.first = append(s.first, sent...)
	}
	t := s.seen
	s.seen++
	if t < int64(s.max) {
		s.kept = append(s.kept, sent...)
		return
	}
	if j := s.rng.next() % uint64(t+1); j < uint64(s.max) {
		copy(s.kept[int(j)*s.sentLen:], sent)
	}
}

// corpus returns the sentences to train on: the sample, then the first
// sentence of every token of the vocabulary (V ids) that the sample lacks,
// each such sentence once.
func (s *sentenceSample) corpus(V int) []int32 {
	if s.seen <= int64(s.max) {
		return s.kept // every sentence: nothing can be missing
	}
	has := make([]bool, V)
	for _, id := range s.kept {
		has[id] = true
	}
	out := s.kept
	for id := 0; id < V; id++ {
		if has[id] {
			continue
		}
		sent := s.first[id*s.sentLen : (id+1)*s.sentLen]
		out = append(out, sent...)
		for _, t := range sent {
			has[t] = true
		}
	}
	return out
}
