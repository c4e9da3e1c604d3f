/** Shows a result on the page and in `data-result` (read by the consumer check), or the error. */
export async function report(run) {
  const status = document.getElementById('status');
  try {
    const result = await run();
    status.textContent = JSON.stringify(result);
    document.body.dataset.result = JSON.stringify(result);
  } catch (e) {
    status.textContent = `error: ${e instanceof Error ? e.message : String(e)}`;
    document.body.dataset.error = status.textContent;
  }
}
