"""National database connectors, whatever the records are: sources (a file dropped in an object
store, a REST API), the batch every run reads whole before applying, its report and the command
line both import commands share (docs/connectors.md). Each service keeps its records and sink."""
