// Allure 3 configuration for `make report` (run from the repository's root).
// History: each report appends its run to reports/allure-history.jsonl, so the
// next report shows trends; `make clean` keeps it, delete it to start over.
export default {
  name: "cclab",
  output: "./reports/allure-report",
  historyPath: "./reports/allure-history.jsonl",
  plugins: {
    awesome: {
      options: {
        reportName: "cclab",
        reportLanguage: "en",
        groupBy: ["feature", "story"],
      },
    },
  },
};
