# Fit one workload with one R implementation and report as one JSON line.
#
# Run by benchmarks/run.py under /usr/bin/time -v (which measures the peak
# memory).  Usage:
#   Rscript child_r.R IMPL WORKLOAD CSV REPEATS BUDGET_SECONDS
# IMPL is one of lme4, glmmTMB, ordinal, nlme.  The last stdout line is
#   RESULT {"status": ..., "times": [...], "llf": ..., "version": ..., "message": ...}

args <- commandArgs(trailingOnly = TRUE)
impl <- args[1]; workload <- args[2]; csv <- args[3]
repeats <- as.integer(args[4]); budget <- as.numeric(args[5])

json_str <- function(x) {
  if (is.null(x) || length(x) == 0 || is.na(x)) return("null")
  paste0('"', gsub('"', "'", gsub("\\\\", "/", gsub("[\r\n]+", " ", x))), '"')
}
json_num <- function(x) {
  if (is.null(x) || length(x) == 0 || !is.finite(x)) return("null")
  formatC(x, digits = 17, format = "g")
}
emit <- function(status, times = numeric(0), llf = NULL, message = "") {
  ver <- tryCatch(as.character(packageVersion(impl)), error = function(e) NA)
  cat("RESULT {",
      '"impl": ', json_str(impl), ', "workload": ', json_str(workload),
      ', "status": ', json_str(status),
      ', "times": [', paste(vapply(times, json_num, ""), collapse = ", "), "]",
      ', "llf": ', json_num(llf), ', "version": ', json_str(ver),
      ', "message": ', json_str(substr(message, 1, 500)), "}\n", sep = "")
}

groups <- c("g", "s", "d", "dept_service", "id", "item", "region", "site", "subj")
df <- read.csv(csv)
for (v in intersect(groups, names(df))) df[[v]] <- factor(df[[v]])

w4 <- "r2 ~ Anger + GenderM + btypescold + btypeshout + situself + (1|id) + (1|item)"
# Each entry returns a zero-argument function that fits and returns logLik.
make_fit <- function(impl, workload) {
  if (impl == "lme4" || impl == "glmmTMB") {
    suppressMessages(library(impl, character.only = TRUE))
    spec <- switch(workload,
      W1 = list("y ~ service + (1|s) + (1|d) + (1|dept_service)", "gaussian"),
      W2 = list("y ~ x + (1 + x | g)", "gaussian"),
      W3 = list("y ~ x + z + (1 + x | g)", "binomial"),
      W4 = list(w4, "binomial"),
      W5 = list("y ~ x + (1|region/site)", "poisson"),
      W7 = if (impl == "lme4") list("nl", "nl") else NULL,
      NULL)
    if (is.null(spec)) return(NULL)
    fam <- spec[[2]]
    if (fam == "nl") {
      return(function() logLik(nlmer(y ~ SSlogis(t, Asym, xmid, scal) ~ Asym | subj,
                                     data = df,
                                     start = c(Asym = 18, xmid = 4.5, scal = 1.2))))
    }
    f <- as.formula(spec[[1]])
    if (impl == "lme4") {
      if (fam == "gaussian") return(function() logLik(lmer(f, data = df, REML = FALSE)))
      return(function() logLik(glmer(f, data = df, family = fam)))
    }
    return(function() logLik(glmmTMB(f, data = df, family = fam)))
  }
  if (impl == "ordinal") {
    if (workload != "W6") return(NULL)
    suppressMessages(library(ordinal))
    df$y <- factor(df$y, ordered = TRUE)
    return(function() logLik(clmm(y ~ x + (1 | g), data = df)))
  }
  if (impl == "nlme" && workload %in% c("W8", "W13")) {
    suppressMessages(library(nlme))
    return(function() logLik(lme(y ~ x, random = ~1 | id, data = df, method = "ML",
                                 correlation = corAR1(form = ~ time | id))))
  }
  if (impl == "nlme") {
    if (workload != "W7") return(NULL)
    suppressMessages(library(nlme))
    return(function() logLik(nlme(y ~ b1 / (1 + exp(-(t - b2) / b3)), data = df,
                                  fixed = b1 + b2 + b3 ~ 1, random = b1 ~ 1 | subj,
                                  start = c(b1 = 18, b2 = 4.5, b3 = 1.2), method = "ML")))
  }
  stop("unknown implementation ", impl)
}

fit <- tryCatch(make_fit(impl, workload), error = function(e) e)
if (inherits(fit, "error")) {
  emit("error", message = conditionMessage(fit))
} else if (is.null(fit)) {
  emit("not applicable", message = paste(impl, "has no command for", workload))
} else {
  times <- numeric(0); llf <- NULL
  res <- tryCatch({
    for (i in seq_len(repeats)) {
      el <- system.time(ll <- fit())[["elapsed"]]
      times <- c(times, el); llf <- as.numeric(ll)
      if (sum(times) + el > budget) break
    }
    NULL
  }, error = function(e) conditionMessage(e))
  if (is.null(res)) emit("ok", times, llf) else emit("error", times, llf, res)
}
