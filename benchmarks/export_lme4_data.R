# Write W1 (lme4's InstEval) and W4 (lme4's VerbAgg) as the CSVs the
# benchmark reads: grouping factors as 0-based integer codes, binary
# covariates as 0/1 dummies.  These are real data sets, so gen_data.py cannot
# simulate them.
# Usage: Rscript benchmarks/export_lme4_data.R OUTDIR
suppressMessages(library(lme4))
outdir <- commandArgs(trailingOnly = TRUE)[1]
if (is.na(outdir)) outdir <- "."
dir.create(outdir, showWarnings = FALSE, recursive = TRUE)
code <- function(f) as.integer(f) - 1L

ie <- get(data("InstEval", package = "lme4"))
insteval <- data.frame(
  y = ie$y, s = code(ie$s), d = code(ie$d), dept = code(ie$dept),
  service = as.integer(ie$service == "1"),
  # one level per observed (dept, service) cell, in dept-major order
  dept_service = code(interaction(ie$dept, ie$service, drop = TRUE, lex.order = TRUE)))
write.csv(insteval, file.path(outdir, "insteval.csv"), row.names = FALSE)

va <- get(data("VerbAgg", package = "lme4"))
verbagg <- data.frame(
  r2 = as.integer(va$r2 == "Y"), Anger = va$Anger,
  GenderM = as.integer(va$Gender == "M"),
  btypescold = as.integer(va$btype == "scold"),
  btypeshout = as.integer(va$btype == "shout"),
  situself = as.integer(va$situ == "self"),
  id = code(va$id), item = code(va$item))
write.csv(verbagg, file.path(outdir, "verbagg.csv"), row.names = FALSE)
cat("wrote", nrow(insteval), "+", nrow(verbagg), "rows to", outdir, "\n")
