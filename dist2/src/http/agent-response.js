export {};
//# sourceMappingURL=agent-response.js.map