# Clustered bar chart: one group per config (column 1), one bar per server
# (columns 2..ncols+1, titled by the header line).
# gnuplot -e "datafile='x.dat'; outfile='x.png'; ylabel='...'; title='...'; ncols=5" bars.gp
set terminal pngcairo size 1200,560 font "DejaVu Sans,10" noenhanced
set output outfile
set title title
set ylabel ylabel
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics lc rgb "#dddddd"
set key top left horizontal
set xtics rotate by -30 nomirror
set yrange [0:*]
set datafile missing "-"
set linetype 1 lc rgb "#1f77b4"
set linetype 2 lc rgb "#aec7e8"
set linetype 3 lc rgb "#d62728"
set linetype 4 lc rgb "#ff9896"
set linetype 5 lc rgb "#2ca02c"
plot for [i=2:ncols+1] datafile using i:xtic(1) title columnheader(i) noenhanced
