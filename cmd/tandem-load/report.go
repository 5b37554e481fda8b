package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// report is what a load run measured.
type report struct {
	Devices   int
	Elapsed   time.Duration
	Rounds    int64
	Pushes    int
	Mutations int // answered mutations (applied, merged, conflict, rejected)
	Applied   int
	Rejected  int
	Conflicts int
	PerSecond float64
	PushP50   time.Duration
	PushP99   time.Duration
	PushMax   time.Duration
	// The same split by round: the first, when every device pushes at
	// once, and the steady rounds after it.
	OpeningPushes          int
	OpeningP50, OpeningP99 time.Duration
	LaterPushes            int
	LaterP50, LaterP99     time.Duration
	PullP50                time.Duration
	PullP99                time.Duration
	PullMax                time.Duration
	Pulls                  int
	Errors                 int
	ErrorKinds             map[string]int
	LastError              string
	LostOnPurpose          int
	MemRSSPeakKB           int64 // sampled peak resident memory of the server
	MemHWMKB               int64 // kernel's high-water mark (VmHWM)
}

func (r *recorder) report(opt options, elapsed time.Duration, mem *memSampler) *report {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := &report{
		Devices: opt.Devices, Elapsed: elapsed, Rounds: r.rounds.Load(),
		Pushes:    len(r.pushLat),
		Pulls:     len(r.pullLat),
		Mutations: r.results.Applied + r.results.Merged + r.results.Conflict + r.results.Rejected,
		Applied:   r.results.Applied + r.results.Merged, Rejected: r.results.Rejected, Conflicts: r.results.Conflict,
		ErrorKinds: map[string]int{}, LastError: r.lastError,
	}
	for k, v := range r.errors {
		rep.ErrorKinds[k] = v
		if k == "answer_lost_on_purpose" {
			rep.LostOnPurpose += v
		} else {
			rep.Errors += v
		}
	}
	if elapsed > 0 {
		rep.PerSecond = float64(rep.Mutations) / elapsed.Seconds()
	}
	rep.PushP50, rep.PushP99, rep.PushMax = quantiles(r.pushLat)
	rep.PullP50, rep.PullP99, rep.PullMax = quantiles(r.pullLat)
	rep.OpeningPushes, rep.LaterPushes = len(r.pushOpening), len(r.pushLater)
	rep.OpeningP50, rep.OpeningP99, _ = quantiles(r.pushOpening)
	rep.LaterP50, rep.LaterP99, _ = quantiles(r.pushLater)
	rep.MemRSSPeakKB, rep.MemHWMKB = mem.result()
	return rep
}

// quantiles returns p50, p99 and max (nearest rank).
func quantiles(d []time.Duration) (p50, p99, max time.Duration) {
	if len(d) == 0 {
		return 0, 0, 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	rank := func(p float64) time.Duration {
		i := int(p*float64(len(s))+0.999999) - 1
		if i < 0 {
			i = 0
		}
		return s[i]
	}
	return rank(0.50), rank(0.99), s[len(s)-1]
}

func (rep *report) print(w io.Writer) {
	fmt.Fprintf(w, "devices            %d\n", rep.Devices)
	fmt.Fprintf(w, "elapsed            %v\n", rep.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "rounds             %d\n", rep.Rounds)
	fmt.Fprintf(w, "pushes             %d (p50 %v, p99 %v, max %v)\n", rep.Pushes, ms(rep.PushP50), ms(rep.PushP99), ms(rep.PushMax))
	if rep.OpeningPushes > 0 && rep.LaterPushes > 0 {
		fmt.Fprintf(w, "  first round      %d (p50 %v, p99 %v): every device pushing at the same moment\n", rep.OpeningPushes, ms(rep.OpeningP50), ms(rep.OpeningP99))
		fmt.Fprintf(w, "  later rounds     %d (p50 %v, p99 %v)\n", rep.LaterPushes, ms(rep.LaterP50), ms(rep.LaterP99))
	}
	fmt.Fprintf(w, "pulls              %d (p50 %v, p99 %v, max %v)\n", rep.Pulls, ms(rep.PullP50), ms(rep.PullP99), ms(rep.PullMax))
	fmt.Fprintf(w, "mutations answered %d (%.0f/s): %d applied or merged, %d conflicts, %d rejected\n", rep.Mutations, rep.PerSecond, rep.Applied, rep.Conflicts, rep.Rejected)
	if rep.MemHWMKB > 0 || rep.MemRSSPeakKB > 0 {
		fmt.Fprintf(w, "server memory      peak RSS %.1f MiB (sampled), VmHWM %.1f MiB\n", float64(rep.MemRSSPeakKB)/1024, float64(rep.MemHWMKB)/1024)
	}
	if rep.LostOnPurpose > 0 {
		fmt.Fprintf(w, "answers lost       %d on purpose (--lose), replayed\n", rep.LostOnPurpose)
	}
	fmt.Fprintf(w, "errors             %d\n", rep.Errors)
	kinds := make([]string, 0, len(rep.ErrorKinds))
	for k := range rep.ErrorKinds {
		if k != "answer_lost_on_purpose" {
			kinds = append(kinds, k)
		}
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		fmt.Fprintf(w, "  %-24s %d\n", k, rep.ErrorKinds[k])
	}
	if rep.Errors > 0 && rep.LastError != "" {
		fmt.Fprintf(w, "  last: %s\n", rep.LastError)
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }

// memSampler reads the server's resident memory from /proc/<pid>/status.
type memSampler struct {
	pid  int
	mu   sync.Mutex
	peak int64
	hwm  int64
}

func (m *memSampler) run(ctx context.Context) {
	if m.pid <= 0 {
		return
	}
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		m.sample()
		select {
		case <-ctx.Done():
			m.sample()
			return
		case <-t.C:
		}
	}
}

func (m *memSampler) sample() {
	rss, hwm, err := procMemory(m.pid)
	if err != nil {
		return
	}
	m.mu.Lock()
	if rss > m.peak {
		m.peak = rss
	}
	if hwm > m.hwm {
		m.hwm = hwm
	}
	m.mu.Unlock()
}

func (m *memSampler) result() (int64, int64) {
	if m.pid > 0 {
		m.sample()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.peak, m.hwm
}

// procMemory returns VmRSS and VmHWM of pid, in KiB.
func procMemory(pid int) (rss, hwm int64, err error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(value)
		if len(fields) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(fields[0], 10, 64)
		switch name {
		case "VmRSS":
			rss = n
		case "VmHWM":
			hwm = n
		}
	}
	return rss, hwm, sc.Err()
}
