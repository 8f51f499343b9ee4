// Grid codes on the pages: 15 digits, the 12-digit 社区 code (6 county + 3 街道 + 3 社区) and a 3-digit sequence.
// The one place a page reads a code (the server's is gridmap/partition/codes.py): nothing else slices one.
const gridmapCodes = Object.freeze((() => {
  const GRID = /^\d{15}$/;
  const isGrid = code => typeof code === "string" && GRID.test(code);
  const part = (code, end, start = 0) => (isGrid(code) ? code.slice(start, end) : null);
  return {
    isGrid,
    community: code => part(code, 12),  // the 社区 a grid belongs to, null for no grid code
    street: code => part(code, 9),  // its 街道
    sequence: code => (isGrid(code) ? Number(code.slice(12)) : null),  // 1-999
    label: code => (isGrid(code) ? code.slice(12) : String(code ?? "")),  // "007": how a map labels a grid
  };
})());
