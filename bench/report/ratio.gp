# Dot chart of values relative to a reference (1.0): one column of dots per
# config (column 1), one dot per server (columns 2..ncols+1, header = title).
# gnuplot -e "datafile='x.dat'; outfile='x.png'; ylabel='...'; title='...'; ncols=5" ratio.gp
set terminal pngcairo size 1200,560 font "DejaVu Sans,10" noenhanced
set output outfile
set title title
set ylabel ylabel
set grid ytics lc rgb "#dddddd"
set key top left horizontal
set xtics rotate by -30 nomirror
set datafile missing "-"
set offsets 0.5, 0.5, 0.05, 0.05
set linetype 1 lc rgb "#1f77b4"
set linetype 2 lc rgb "#7fb2e5"
set linetype 3 lc rgb "#d62728"
set linetype 4 lc rgb "#ff9896"
set linetype 5 lc rgb "#2ca02c"
set arrow from graph 0, first 1 to graph 1, first 1 nohead lc rgb "#888888" dt 2
# The first element only places the config names under each group.
set key autotitle columnheader
plot datafile using 0:(NaN):xtic(1) notitle, \
     for [i=2:ncols+1] datafile using ($0 + (i - 2 - (ncols - 1) / 2.0) * 0.12):i \
     with points lt (i - 1) pt (i == 2 || i == 3 ? 7 : 5) ps 1.6 title columnheader(i)
