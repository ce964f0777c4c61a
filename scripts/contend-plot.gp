# gnuplot script of scripts/contend-plot.sh: the cases of a splitmoe
# contend trace one after the other (block i shifted by i * span).
# Variables: trace, out, span (s per case), ttl (the trace's header).
set terminal pngcairo size 1100,520 font "DejaVu Sans,10"
set output out
set title sprintf("splitmoe contend: %s", ttl)
set xlabel "time (s); cases one after the other"
set ylabel "decode tok/s"
set y2label "hog GB/s (read + written)"
set ytics nomirror
set y2tics
set yrange [0:*]
set y2range [0:*]
set xrange [0:3 * span]
set grid ytics
set key outside bottom center horizontal

do for [i = 1:2] {
	set arrow from i * span, graph 0 to i * span, graph 1 nohead dt 2 lc rgb "gray50"
}
set label 1 "hog off" at 0.5 * span, graph 0.95 center
set label 2 "hog ungated" at 1.5 * span, graph 0.95 center
set label 3 "hog gated" at 2.5 * span, graph 0.95 center
set offsets 0, 0, graph 0.12, 0
# the trailing 1 s means (columns 4, 5): a token can outlast a 100 ms sample
plot for [i = 0:2] trace index i using ($1 + i * span):4 axes x1y1 with lines lw 2 \
	lc rgb "#1f77b4" title (i == 0 ? "decode tok/s (1 s mean)" : ""), \
     for [i = 0:2] trace index i using ($1 + i * span):3 axes x1y2 with lines lw 1 \
	lc rgb "#f4a6a6" title (i == 0 ? "hog GB/s (100 ms)" : ""), \
     for [i = 0:2] trace index i using ($1 + i * span):5 axes x1y2 with lines lw 2 \
	lc rgb "#d62728" title (i == 0 ? "hog GB/s (1 s mean)" : "")
