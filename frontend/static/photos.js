// Photos from the camera, compressed on the phone before they are kept or sent: JPEG, long side ≤ maxSide px,
// turned upright, transparency on white. Shared by the report form (report.js) and the visit form (fieldwork.js).
async function gridmapCompressPhoto(file, maxSide) {
  let source;
  try { source = await createImageBitmap(file, {imageOrientation: "from-image"}); } catch (e) {
    source = await new Promise((resolve, reject) => {
      const img = new Image();
      img.onload = () => resolve(img);
      img.onerror = () => reject(new Error("not an image"));
      img.src = URL.createObjectURL(file);
    });
  }
  const scale = Math.min(1, maxSide / Math.max(source.width, source.height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.round(source.width * scale));
  canvas.height = Math.max(1, Math.round(source.height * scale));
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#fff";  // a transparent PNG becomes white, not black, as JPEG
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(source, 0, 0, canvas.width, canvas.height);
  return new Promise((resolve, reject) => canvas.toBlob(b => (b ? resolve(b) : reject(new Error("encode"))), "image/jpeg", 0.82));
}
