export {};
//# sourceMappingURL=entry-handlers.js.map