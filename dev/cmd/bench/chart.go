package main

import (
	"fmt"
	"html"
	"math"
	"strings"
	"time"
)

// Layout of the latency chart, in SVG user units.
const (
	chartWidth  = 720
	labelWidth  = 190 // scenario name and rate, left of the bars
	valueWidth  = 80  // room right of the longest bar for its value
	titleHeight = 40
	rowHeight   = 46
	axisHeight  = 36
	barHeight   = 16
)

// latencyChart draws p50 and p99 of every scenario as horizontal bars on one
// linear millisecond axis, with each scenario's rate beside its name.
func latencyChart(r report) string {
	var top time.Duration
	for _, s := range r.Scenarios {
		top = max(top, s.Result.Latency.Quantile(0.99))
	}
	axisMax := niceCeil(msFloat(top))
	plotWidth := float64(chartWidth - labelWidth - valueWidth)
	x := func(d time.Duration) float64 { return labelWidth + plotWidth*msFloat(d)/axisMax }
	height := titleHeight + rowHeight*len(r.Scenarios) + axisHeight + 8

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		chartWidth, height, chartWidth, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="10" y="22" font-size="15" font-weight="bold">%s — latency at %s</text>`+"\n",
		html.EscapeString(r.Title), connsLabel(r))

	plotBottom := titleHeight + rowHeight*len(r.Scenarios)
	for i := 0; i <= 5; i++ {
		v := axisMax * float64(i) / 5
		px := labelWidth + plotWidth*float64(i)/5
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>`+"\n", px, titleHeight, px, plotBottom)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#555">%s</text>`+"\n", px, plotBottom+16, trimFloat(v))
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#555">milliseconds</text>`+"\n", labelWidth+plotWidth/2, plotBottom+32)

	for i, s := range r.Scenarios {
		y := titleHeight + rowHeight*i + 6
		fmt.Fprintf(&b, `<text x="10" y="%d" font-weight="bold">%s</text>`+"\n", y+12, html.EscapeString(s.Name))
		fmt.Fprintf(&b, `<text x="10" y="%d" fill="#555">%.0f req/s, %d errors</text>`+"\n", y+28, s.Result.Rate(), s.Result.Errors)
		bars := []struct {
			label string
			q     float64
			fill  string
		}{{"p50", 0.5, "#7fb3d5"}, {"p99", 0.99, "#1f618d"}}
		for j, bar := range bars {
			d := s.Result.Latency.Quantile(bar.q)
			by := y + j*(barHeight+2)
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"><title>%s %s</title></rect>`+"\n",
				labelWidth, by, x(d)-labelWidth, barHeight, bar.fill, bar.label, ms(d))
			fmt.Fprintf(&b, `<text x="%.1f" y="%d">%s %s</text>`+"\n", x(d)+4, by+12, bar.label, ms(d))
		}
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// connsLabel says the connections of the scenarios ("64 connections", or
// "8–64 connections" when they differ).
func connsLabel(r report) string {
	lo, hi := math.MaxInt, 0
	for _, s := range r.Scenarios {
		lo, hi = min(lo, s.Result.Conns), max(hi, s.Result.Conns)
	}
	switch {
	case hi == 0:
		return "no scenario"
	case lo == hi:
		return fmt.Sprintf("%d connections", hi)
	default:
		return fmt.Sprintf("%d–%d connections", lo, hi)
	}
}

// niceCeil rounds v up to a round number times a power of ten (at least
// 0.1), so that the axis ticks at fifths of it are round numbers too.
func niceCeil(v float64) float64 {
	if v <= 0.1 {
		return 0.1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// trimFloat prints an axis value without trailing zeros.
func trimFloat(v float64) string {
	s := fmt.Sprintf("%.2f", v)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}
